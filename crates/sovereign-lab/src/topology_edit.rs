//! Rewriting the topology after a failover drill, keeping its comments and layout: the
//! promoted site becomes `postgres.primary`, the old primary a secondary and the successor.

use toml_edit::{Array, DocumentMut, Item, value};

use crate::LabError;

/// The topology text with `new` as the PostgreSQL primary and `old` as a secondary (and the
/// designated successor, the natural way back).
pub fn promote(text: &str, new: &str, old: &str) -> Result<String, LabError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| LabError::client("the lab's topology.toml does not parse", e))?;
    let pg = doc
        .get_mut("postgres")
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| LabError::NotInLab("the topology has no [postgres] table".into()))?;
    set_str(pg, "primary", new);
    let mut secondaries: Vec<String> = pg
        .get("secondaries")
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    secondaries.retain(|s| s != new);
    if !secondaries.iter().any(|s| s == old) {
        secondaries.push(old.to_string());
    }
    // Keep the array's own formatting where it had one: rebuild its values only.
    match pg.get_mut("secondaries").and_then(Item::as_array_mut) {
        Some(a) => {
            let decor = a.decor().clone();
            a.clear();
            for s in &secondaries {
                a.push(s.as_str());
            }
            *a.decor_mut() = decor;
        }
        None => {
            let mut a = Array::new();
            for s in &secondaries {
                a.push(s.as_str());
            }
            pg.insert("secondaries", value(a));
        }
    }
    set_str(pg, "successor", old);
    // Per-site instance counts stay with their sites.
    Ok(doc.to_string())
}

/// Sets a string value, keeping the comment and spacing around the old one.
fn set_str(t: &mut dyn toml_edit::TableLike, key: &str, v: &str) {
    match t.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = v.into();
            *old.decor_mut() = decor;
        }
        None => {
            t.insert(key, value(v));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn swaps_primary_and_keeps_comments() {
        let t = "# top\n[postgres]\nprimary = \"ams\" # the writer\n# members\nsecondaries = [\"iad\", \"syd\"]\nsuccessor = \"iad\"\n";
        let out = super::promote(t, "iad", "ams").unwrap();
        assert!(out.contains("primary = \"iad\" # the writer"), "{out}");
        assert!(out.contains("secondaries = [\"syd\", \"ams\"]"), "{out}");
        assert!(out.contains("successor = \"ams\""), "{out}");
        assert!(out.contains("# members") && out.contains("# top"));
    }
}
