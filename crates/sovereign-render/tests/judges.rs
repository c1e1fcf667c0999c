//! Judges of the rendered trees that run inside `cargo test` (Terraform core and checkov run from
//! `scripts/judge.py`):
//!
//! - provider schemas (hashicorp/aws 6.25.0, helm 3.1.1, kubernetes 2.38.0, vendored in
//!   `tests/data/provider-schemas`): every resource and data source type exists; every argument
//!   and nested block exists in it and is not computed-only; every required one is present;
//! - references, the part of `terraform validate` that needs no provider: every `var.`, `local.`,
//!   `module.<m>.<output>`, `data.` and resource reference names something declared, and every
//!   module call passes only variables the module declares and all it requires;
//! - YAML, JSON, TOML and shell files parse.
//!
//! Each check is also run on a broken tree to prove it fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use hcl::expr::{Expression, ObjectKey, TemplateExpr, TraversalOperator};
use hcl::structure::{BlockLabel, Body, Structure};
use serde_json::Value;
use sovereign_catalog::{Catalog, Date};

fn examples() -> Vec<(String, sovereign_render::Tree)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        let report =
            sovereign_check::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26));
        let v = report
            .validated
            .unwrap_or_else(|| panic!("{} does not validate", p.display()));
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let tree =
            sovereign_render::render(&v, Catalog::builtin(), &format!("examples/{name}.toml"))
                .unwrap();
        out.push((name, tree));
    }
    out
}

struct Schemas {
    providers: Vec<(&'static str, Value)>,
}

fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/provider-schemas");
        let load = |f: &str| -> Value {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap();
            v.as_object().unwrap().values().next().unwrap().clone()
        };
        Schemas {
            providers: vec![
                ("aws_", load("aws-6.25.0.json")),
                ("helm_", load("helm-3.1.1.json")),
                ("kubernetes_", load("kubernetes-2.38.0.json")),
            ],
        }
    })
}

fn schema_for(kind: &str, ty: &str) -> Option<&'static Value> {
    let (_, p) = schemas()
        .providers
        .iter()
        .find(|(prefix, _)| ty.starts_with(prefix))?;
    p.get(if kind == "data" {
        "data_sources"
    } else {
        "resources"
    })?
    .get(ty)
}

const META_ATTRS: &[&str] = &["count", "for_each", "provider", "depends_on"];

fn label(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Identifier(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

/// Checks a body against a schema block; problems are pushed as `where: what`.
///
/// A schema block with neither attributes nor blocks is opaque: the derived schemas stop at
/// recursive types (`aws_wafv2_web_acl` rule statements), so its contents cannot be checked.
fn check_body(schema: &Value, body: &Body, at: &str, meta: bool, out: &mut Vec<String>) {
    let attrs = schema.get("attributes").and_then(Value::as_object);
    let blocks = schema.get("blocks").and_then(Value::as_object);
    if !meta && attrs.is_none_or(|a| a.is_empty()) && blocks.is_none_or(|b| b.is_empty()) {
        return;
    }
    let read_only: Vec<&str> = schema
        .get("read_only")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut seen_attrs = BTreeSet::new();
    let mut seen_blocks = BTreeSet::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let k = a.key.as_str();
                if meta && META_ATTRS.contains(&k) {
                    continue;
                }
                seen_attrs.insert(k.to_string());
                if read_only.contains(&k) {
                    out.push(format!("{at}: `{k}` is computed, it cannot be set"));
                } else if let Some(def) = attrs.and_then(|m| m.get(k)) {
                    if def.get("nested_type").is_some() {
                        check_nested_value(def, &a.expr, &format!("{at}.{k}"), out);
                    }
                } else if blocks.is_some_and(|b| b.contains_key(k)) {
                    out.push(format!("{at}: `{k}` is a block, not an argument"));
                } else {
                    out.push(format!("{at}: unknown argument `{k}`"));
                }
            }
            Structure::Block(b) => {
                let name = b.identifier.as_str();
                match name {
                    "lifecycle" if meta => continue,
                    "dynamic" => {
                        let inner = b.labels.first().map(label).unwrap_or_default();
                        seen_blocks.insert(inner.to_string());
                        match blocks.and_then(|m| m.get(inner)) {
                            Some(def) => {
                                for c in b
                                    .body
                                    .blocks()
                                    .filter(|c| c.identifier.as_str() == "content")
                                {
                                    check_body(def, &c.body, &format!("{at}.{inner}"), false, out);
                                }
                            }
                            None => out.push(format!("{at}: unknown block `{inner}` (dynamic)")),
                        }
                    }
                    _ => {
                        seen_blocks.insert(name.to_string());
                        match blocks.and_then(|m| m.get(name)) {
                            Some(def) => {
                                check_body(def, &b.body, &format!("{at}.{name}"), false, out)
                            }
                            None if attrs.is_some_and(|m| m.contains_key(name)) => {
                                out.push(format!(
                                    "{at}: `{name}` is an argument (`{name} = ...`), not a block"
                                ))
                            }
                            None => out.push(format!("{at}: unknown block `{name}`")),
                        }
                    }
                }
            }
        }
    }
    if let Some(attrs) = attrs {
        for (k, def) in attrs {
            if def.get("required").and_then(Value::as_bool) == Some(true) && !seen_attrs.contains(k)
            {
                out.push(format!("{at}: missing required argument `{k}`"));
            }
        }
    }
    if let Some(blocks) = blocks {
        for (k, def) in blocks {
            let required = def.get("required").and_then(Value::as_bool) == Some(true)
                || def.get("min_items").and_then(Value::as_u64).unwrap_or(0) > 0;
            if required && !seen_blocks.contains(k) {
                out.push(format!("{at}: missing required block `{k}`"));
            }
        }
    }
}

/// Nested-type attributes (helm `set = [{ name, value }]`): literal objects have known keys.
fn check_nested_value(def: &Value, expr: &Expression, at: &str, out: &mut Vec<String>) {
    let Some(keys) = def.get("attributes").and_then(Value::as_object) else {
        return;
    };
    let objects: Vec<&hcl::expr::Object<ObjectKey, Expression>> = match expr {
        Expression::Array(items) => items
            .iter()
            .filter_map(|i| {
                if let Expression::Object(o) = i {
                    Some(o)
                } else {
                    None
                }
            })
            .collect(),
        Expression::Object(o) => vec![o],
        _ => Vec::new(),
    };
    for o in objects {
        let present: Vec<String> = o
            .keys()
            .filter_map(|k| match k {
                ObjectKey::Identifier(i) => Some(i.to_string()),
                ObjectKey::Expression(Expression::String(s)) => Some(s.clone()),
                _ => None,
            })
            .collect();
        for p in &present {
            if !keys.contains_key(p) {
                out.push(format!("{at}: unknown key `{p}`"));
            }
        }
        for (k, d) in keys {
            if d.get("required").and_then(Value::as_bool) == Some(true) && !present.contains(k) {
                out.push(format!("{at}: missing required key `{k}`"));
            }
        }
    }
}

/// One module directory of a tree: its files parsed.
struct Module {
    dir: String,
    bodies: Vec<(String, Body)>,
}

fn modules(tree: &sovereign_render::Tree) -> BTreeMap<String, Module> {
    let mut out: BTreeMap<String, Module> = BTreeMap::new();
    for (path, bytes) in tree.files() {
        if !path.ends_with(".tf") {
            continue;
        }
        let dir = path
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default();
        let text = std::str::from_utf8(bytes).unwrap();
        let body = hcl::parse(text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
        out.entry(dir.clone())
            .or_insert_with(|| Module {
                dir,
                bodies: Vec::new(),
            })
            .bodies
            .push((path.to_string(), body));
    }
    out
}

fn schema_problems(tree: &sovereign_render::Tree) -> Vec<String> {
    let mut out = Vec::new();
    for m in modules(tree).values() {
        for (path, body) in &m.bodies {
            for b in body.blocks() {
                let kind = b.identifier.as_str();
                if kind != "resource" && kind != "data" {
                    continue;
                }
                let ty = b.labels.first().map(label).unwrap_or_default();
                let name = b.labels.get(1).map(label).unwrap_or_default();
                if matches!(ty, "terraform_data" | "terraform_remote_state") {
                    continue;
                }
                let at = format!(
                    "{path}: {}{ty}.{name}",
                    if kind == "data" { "data." } else { "" }
                );
                match schema_for(kind, ty) {
                    Some(schema) => check_body(schema, &b.body, &at, true, &mut out),
                    None => out.push(format!("{at}: unknown {kind} type `{ty}`")),
                }
            }
        }
    }
    out
}

/// What a module declares.
#[derive(Default)]
struct Decls {
    variables: BTreeMap<String, bool>, // name → required
    locals: BTreeSet<String>,
    resources: BTreeSet<String>,
    data: BTreeSet<String>,
    modules: BTreeMap<String, String>, // name → source dir
    outputs: BTreeSet<String>,
}

fn decls(m: &Module) -> Decls {
    let mut d = Decls::default();
    for (_, body) in &m.bodies {
        for b in body.blocks() {
            let l: Vec<&str> = b.labels.iter().map(label).collect();
            match b.identifier.as_str() {
                "variable" => {
                    let required = !b.body.attributes().any(|a| a.key.as_str() == "default");
                    d.variables.insert(l[0].to_string(), required);
                }
                "locals" => d
                    .locals
                    .extend(b.body.attributes().map(|a| a.key.to_string())),
                "resource" => {
                    d.resources.insert(format!("{}.{}", l[0], l[1]));
                }
                "data" => {
                    d.data.insert(format!("{}.{}", l[0], l[1]));
                }
                "module" => {
                    let source = b
                        .body
                        .attributes()
                        .find(|a| a.key.as_str() == "source")
                        .and_then(|a| {
                            if let Expression::String(s) = &a.expr {
                                Some(s.clone())
                            } else {
                                None
                            }
                        })
                        .unwrap_or_default();
                    d.modules.insert(l[0].to_string(), join(&m.dir, &source));
                }
                "output" => {
                    d.outputs.insert(l[0].to_string());
                }
                _ => {}
            }
        }
    }
    d
}

fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for p in rel.split('/') {
        match p {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Collects references from an expression: (root, first attr, second attr); names bound by
/// `for` expressions are skipped.
fn refs(e: &Expression, bound: &[String], out: &mut Vec<Vec<String>>) {
    match e {
        Expression::Variable(v) if !bound.contains(&v.to_string()) => out.push(vec![v.to_string()]),
        Expression::Variable(_) => {}
        Expression::Traversal(t) => {
            if let Expression::Variable(v) = &t.expr {
                if !bound.contains(&v.to_string()) {
                    let mut path = vec![v.to_string()];
                    for op in &t.operators {
                        match op {
                            TraversalOperator::GetAttr(i) => path.push(i.to_string()),
                            TraversalOperator::Index(Expression::String(s)) => path.push(s.clone()),
                            _ => break,
                        }
                        if path.len() == 3 {
                            break;
                        }
                    }
                    out.push(path);
                }
            } else {
                refs(&t.expr, bound, out);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    refs(i, bound, out);
                }
            }
        }
        Expression::Array(items) => items.iter().for_each(|i| refs(i, bound, out)),
        Expression::Object(o) => {
            for (k, v) in o.iter() {
                if let ObjectKey::Expression(k) = k {
                    refs(k, bound, out);
                }
                refs(v, bound, out);
            }
        }
        Expression::TemplateExpr(t) => template_refs(t, bound, out),
        Expression::FuncCall(f) => f.args.iter().for_each(|a| refs(a, bound, out)),
        Expression::Parenthesis(p) => refs(p, bound, out),
        Expression::Conditional(c) => {
            refs(&c.cond_expr, bound, out);
            refs(&c.true_expr, bound, out);
            refs(&c.false_expr, bound, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => refs(&u.expr, bound, out),
            hcl::expr::Operation::Binary(b) => {
                refs(&b.lhs_expr, bound, out);
                refs(&b.rhs_expr, bound, out);
            }
        },
        Expression::ForExpr(f) => {
            refs(&f.collection_expr, bound, out);
            let mut inner = bound.to_vec();
            inner.push(f.value_var.to_string());
            if let Some(k) = &f.key_var {
                inner.push(k.to_string());
            }
            if let Some(k) = &f.key_expr {
                refs(k, &inner, out);
            }
            refs(&f.value_expr, &inner, out);
            if let Some(c) = &f.cond_expr {
                refs(c, &inner, out);
            }
        }
        _ => {}
    }
}

fn template_refs(t: &TemplateExpr, bound: &[String], out: &mut Vec<Vec<String>>) {
    let Ok(tpl) = hcl::template::Template::from_expr(t) else {
        return;
    };
    fn walk(tpl: &hcl::template::Template, bound: &[String], out: &mut Vec<Vec<String>>) {
        for el in tpl.elements() {
            match el {
                hcl::template::Element::Interpolation(i) => refs(&i.expr, bound, out),
                hcl::template::Element::Directive(d) => match d.as_ref() {
                    hcl::template::Directive::If(i) => {
                        refs(&i.cond_expr, bound, out);
                        walk(&i.true_template, bound, out);
                        if let Some(f) = &i.false_template {
                            walk(f, bound, out);
                        }
                    }
                    hcl::template::Directive::For(f) => {
                        refs(&f.collection_expr, bound, out);
                        let mut inner = bound.to_vec();
                        inner.push(f.value_var.to_string());
                        walk(&f.template, &inner, out);
                    }
                },
                hcl::template::Element::Literal(_) => {}
            }
        }
    }
    walk(&tpl, bound, out);
}

/// References in a block's body. Skipped: type constraints of variables, `ignore_changes`
/// (attribute paths of the resource itself), and provider references.
fn body_refs(body: &Body, kind: &str, out: &mut Vec<Vec<String>>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let k = a.key.as_str();
                let skip = (kind == "variable" && k == "type")
                    || (kind == "lifecycle" && k == "ignore_changes")
                    || k == "provider"
                    || (kind == "module" && k == "providers");
                if !skip {
                    refs(&a.expr, &[], out);
                }
            }
            Structure::Block(b) => {
                if b.identifier.as_str() == "dynamic" {
                    // The iterator is named after the block unless `iterator` says otherwise.
                    let name = b.labels.first().map(label).unwrap_or_default().to_string();
                    let mut inner = Vec::new();
                    body_refs(&b.body, "dynamic", &mut inner);
                    out.extend(inner.into_iter().filter(|r| r[0] != name));
                } else {
                    body_refs(&b.body, b.identifier.as_str(), out);
                }
            }
        }
    }
}

const BUILTIN_ROOTS: &[&str] = &[
    "each",
    "count",
    "self",
    "path",
    "terraform",
    "var",
    "local",
    "module",
    "data",
];

/// A `moved` block names addresses, not values: `to` must be a resource this module or one of
/// its module calls declares (`from` is what the state may still hold, so anything goes).
fn moved_problems(
    path: &str,
    b: &hcl::structure::Block,
    d: &Decls,
    all: &HashMap<&str, Decls>,
) -> Vec<String> {
    let Some(to) = b.body.attributes().find(|a| a.key.as_str() == "to") else {
        return vec![format!("{path}: moved without `to`")];
    };
    let text = hcl::format::to_string(&to.expr).unwrap_or_default();
    // Instance keys (`["spot"]`, `[0]`) do not change which resource it is.
    let address: String = text
        .split('[')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once(']').map_or("", |(_, rest)| rest)
            }
        })
        .collect();
    let parts: Vec<&str> = address.trim().split('.').collect();
    let (decls, resource) = match parts.as_slice() {
        ["module", name, ty, res] => {
            match d.modules.get(*name).and_then(|src| all.get(src.as_str())) {
                Some(child) => (child, format!("{ty}.{res}")),
                None => {
                    return vec![format!(
                        "{path}: moved to an unknown module `module.{name}`"
                    )];
                }
            }
        }
        [ty, res] => (d, format!("{ty}.{res}")),
        _ => return vec![format!("{path}: moved to `{text}`, not a resource address")],
    };
    if decls.resources.contains(&resource) {
        Vec::new()
    } else {
        vec![format!("{path}: moved to `{text}`, which is not declared")]
    }
}

fn reference_problems(tree: &sovereign_render::Tree) -> Vec<String> {
    let mods = modules(tree);
    let all: HashMap<&str, Decls> = mods.iter().map(|(k, m)| (k.as_str(), decls(m))).collect();
    let mut out = Vec::new();
    for (dir, m) in &mods {
        let d = &all[dir.as_str()];
        for (path, body) in &m.bodies {
            for b in body.blocks() {
                if b.identifier.as_str() == "moved" {
                    out.extend(moved_problems(path, b, d, &all));
                    continue;
                }
                let mut found = Vec::new();
                body_refs(&b.body, b.identifier.as_str(), &mut found);
                let what = format!(
                    "{path}: {} {}",
                    b.identifier,
                    b.labels.iter().map(label).collect::<Vec<_>>().join(".")
                );
                for r in found {
                    let root = r[0].as_str();
                    let second = r.get(1).map(String::as_str).unwrap_or("");
                    match root {
                        "var" if !d.variables.contains_key(second) => {
                            out.push(format!("{what}: undeclared variable `var.{second}`"))
                        }
                        "local" if !d.locals.contains(second) => {
                            out.push(format!("{what}: undeclared local `local.{second}`"))
                        }
                        "module" => match d.modules.get(second) {
                            None => out.push(format!("{what}: unknown module `module.{second}`")),
                            Some(src) => {
                                if let (Some(child), Some(o)) = (all.get(src.as_str()), r.get(2))
                                    && !child.outputs.contains(o)
                                {
                                    out.push(format!(
                                        "{what}: module `{second}` has no output `{o}`"
                                    ));
                                }
                            }
                        },
                        "data" => {
                            let key =
                                format!("{second}.{}", r.get(2).map(String::as_str).unwrap_or(""));
                            if !d.data.contains(&key) {
                                out.push(format!("{what}: undeclared data source `data.{key}`"));
                            }
                        }
                        r0 if BUILTIN_ROOTS.contains(&r0) => {}
                        ty if ty.contains('_') => {
                            let key = format!("{ty}.{second}");
                            if !d.resources.contains(&key) {
                                out.push(format!("{what}: undeclared resource `{key}`"));
                            }
                        }
                        other => out.push(format!("{what}: unknown reference `{other}`")),
                    }
                }
                // Module calls: only declared variables, all required ones.
                if b.identifier.as_str() == "module" {
                    let name = b.labels.first().map(label).unwrap_or_default();
                    let Some(child) = d.modules.get(name).and_then(|s| all.get(s.as_str())) else {
                        out.push(format!("{what}: module source not in the tree"));
                        continue;
                    };
                    let given: BTreeSet<String> =
                        b.body.attributes().map(|a| a.key.to_string()).collect();
                    for g in &given {
                        if ![
                            "source",
                            "version",
                            "count",
                            "for_each",
                            "providers",
                            "depends_on",
                        ]
                        .contains(&g.as_str())
                            && !child.variables.contains_key(g)
                        {
                            out.push(format!("{what}: the module has no variable `{g}`"));
                        }
                    }
                    for (v, required) in &child.variables {
                        if *required && !given.contains(v) {
                            out.push(format!("{what}: missing required variable `{v}`"));
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn trees_match_provider_schemas() {
    for (name, tree) in examples() {
        let problems = schema_problems(&tree);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
}

#[test]
fn trees_have_no_dangling_references() {
    for (name, tree) in examples() {
        let problems = reference_problems(&tree);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
}

#[test]
fn judges_catch_broken_trees() {
    let mut tree = sovereign_render::Tree::new();
    tree.add(
        "main.tf",
        r#"variable "v" {
  type = string
}

resource "aws_vpc" "x" {
  cidr_blok = "10.0.0.0/16"
  arn       = "x"
  tags      = local.nope
}

resource "aws_eks_node_group" "g" {
  cluster_name = var.missing
}

resource "aws_vpcc" "y" {}

resource "helm_release" "r" {
  name  = "r"
  chart = "c"
  set   = [{ nam = "a" }]
}

module "m" {
  source = "./modules/m"
  extra  = 1
}

output "o" {
  value = module.m.nothing
}

moved {
  from = module.m.aws_vpc.x
  to   = module.m.aws_vpc.x["a"]
}
"#,
    );
    tree.add(
        "modules/m/main.tf",
        "variable \"needed\" {\n  type = string\n}\n\noutput \"out\" {\n  value = var.needed\n}\n",
    );
    let schema = schema_problems(&tree).join("\n");
    for want in [
        "unknown argument `cidr_blok`",
        "`arn` is computed",
        "missing required argument `node_role_arn`",
        "missing required block `scaling_config`",
        "unknown resource type `aws_vpcc`",
        "unknown key `nam`",
        "missing required key `name`",
    ] {
        assert!(
            schema.contains(want),
            "schema check missed `{want}`:\n{schema}"
        );
    }
    let refs = reference_problems(&tree).join("\n");
    for want in [
        "undeclared local `local.nope`",
        "undeclared variable `var.missing`",
        "the module has no variable `extra`",
        "missing required variable `needed`",
        "module `m` has no output `nothing`",
        "moved to `module.m.aws_vpc.x[\"a\"]`, which is not declared",
    ] {
        assert!(
            refs.contains(want),
            "reference check missed `{want}`:\n{refs}"
        );
    }
}

#[test]
fn data_files_parse() {
    for (name, tree) in examples() {
        for (path, bytes) in tree.files() {
            let text =
                std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{name}/{path} is not UTF-8"));
            if path.ends_with(".json") {
                serde_json::from_str::<Value>(text)
                    .unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
            } else if path.ends_with(".yaml") || path.ends_with(".yml") {
                if path.starts_with("charts/") && path.contains("/templates/") {
                    continue; // Helm templates are Go templates, not YAML
                }
                serde_saphyr::from_str::<serde_json::Value>(text)
                    .unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
            } else if path.ends_with("fly.toml") {
                toml::from_str::<toml::Table>(text)
                    .unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
            } else if path.ends_with(".sh") {
                let dir = tempdir(&format!("{name}-sh"));
                let script = dir.join("s.sh");
                std::fs::write(&script, bytes).unwrap();
                let st = std::process::Command::new("bash")
                    .arg("-n")
                    .arg(&script)
                    .status()
                    .unwrap();
                assert!(st.success(), "{name}/{path}: bash -n failed");
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sovereign-judge-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn rendering_is_deterministic() {
    let a = examples();
    let b = examples();
    for ((n, ta), (_, tb)) in a.iter().zip(b.iter()) {
        assert_eq!(ta, tb, "{n} renders differently twice");
    }
}

// ---- hostile values -----------------------------------------------------------------------

/// Every check this file can run on a tree, together: schemas, references, each data file
/// parsed by its own parser, and no value of the topology turned into code.
fn judge_in_process(tree: &sovereign_render::Tree, markers: &[&str]) -> Vec<String> {
    let mut problems = schema_problems(tree);
    problems.extend(reference_problems(tree));
    problems.extend(parse_problems(tree));
    problems.extend(live_value_problems(tree, markers));
    problems
}

fn parse_problems(tree: &sovereign_render::Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in tree.files() {
        let Ok(text) = std::str::from_utf8(bytes) else {
            out.push(format!("{path}: not UTF-8"));
            continue;
        };
        let r: Result<(), String> = if path.ends_with(".tf") {
            hcl::parse(text).map(|_| ()).map_err(|e| e.to_string())
        } else if path.ends_with(".json") {
            serde_json::from_str::<Value>(text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else if (path.ends_with(".yaml") || path.ends_with(".yml"))
            && !(path.starts_with("charts/") && path.contains("/templates/"))
        {
            serde_saphyr::from_str::<Value>(text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else if path.ends_with(".toml") {
            toml::from_str::<toml::Table>(text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else if path.ends_with(".sh") {
            let mut child = std::process::Command::new("bash")
                .arg("-n")
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(bytes).unwrap();
            let o = child.wait_with_output().unwrap();
            if o.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).into_owned())
            }
        } else {
            Ok(())
        };
        if let Err(e) = r {
            out.push(format!("{path}: does not parse: {e}"));
        }
    }
    out
}

/// Markers from the topology must stay text: never inside an HCL interpolation or directive,
/// never inside a Go template action of a Prometheus rule, never outside a quoted word in a
/// shell script.
fn live_value_problems(tree: &sovereign_render::Tree, markers: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in tree.files() {
        let text = String::from_utf8_lossy(bytes);
        if !markers.iter().any(|m| text.contains(m)) {
            continue;
        }
        if path.ends_with(".tf") {
            let Ok(body) = hcl::parse(&text) else {
                continue;
            };
            let mut live = Vec::new();
            live_in_body(&body, &mut live);
            for l in live {
                if l.starts_with("%{ directive }") || markers.iter().any(|m| l.contains(m)) {
                    out.push(format!("{path}: a topology value is live HCL: `{l}`"));
                }
            }
        } else if path.starts_with("monitoring/") && path.ends_with(".yaml") {
            for action in go_template_actions(&text) {
                let literal = action == "{{ \"{{\" }}" || action == "{{ \"}}\" }}";
                if !literal && markers.iter().any(|m| action.contains(m)) {
                    out.push(format!(
                        "{path}: a topology value is a live template action: `{action}`"
                    ));
                }
            }
        } else if path.ends_with(".sh") {
            for line in text.lines() {
                for m in markers {
                    if let Some(at) = line.find(m)
                        && !inside_single_quotes(line, at)
                        && !line.trim_start().starts_with('#')
                    {
                        out.push(format!(
                            "{path}: a topology value is not single-quoted: `{line}`"
                        ));
                    }
                }
            }
        }
    }
    out
}

fn inside_single_quotes(line: &str, at: usize) -> bool {
    line[..at].matches('\'').count() % 2 == 1
}

fn go_template_actions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        // An action that prints `{{` or `}}` holds the delimiter in quotes.
        let after = &rest[start..];
        let end = ["{{ \"{{\" }}", "{{ \"}}\" }}"]
            .iter()
            .find(|lit| after.starts_with(**lit))
            .map(|lit| lit.len())
            .or_else(|| after.find("}}").map(|e| e + 2))
            .unwrap_or(after.len());
        out.push(after[..end].to_string());
        rest = &after[end..];
    }
    out
}

fn live_in_body(body: &Body, out: &mut Vec<String>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => live_in_expr(&a.expr, out),
            Structure::Block(b) => live_in_body(&b.body, out),
        }
    }
}

fn live_in_expr(e: &Expression, out: &mut Vec<String>) {
    match e {
        Expression::TemplateExpr(t) => {
            let Ok(tpl) = hcl::Template::from_expr(t) else {
                out.push(format!("unparseable template {t}"));
                return;
            };
            for el in tpl.elements() {
                match el {
                    hcl::template::Element::Literal(_) => {}
                    hcl::template::Element::Interpolation(i) => {
                        out.push(hcl::format::to_string(&i.expr).unwrap_or_default())
                    }
                    // Sovereign writes no template directives: any is a value turned into code.
                    hcl::template::Element::Directive(d) => {
                        out.push(format!("%{{ directive }} {d:?}"))
                    }
                }
            }
        }
        Expression::Array(items) => items.iter().for_each(|i| live_in_expr(i, out)),
        Expression::Object(o) => o.iter().for_each(|(k, v)| {
            if let ObjectKey::Expression(k) = k {
                live_in_expr(k, out);
            }
            live_in_expr(v, out);
        }),
        Expression::FuncCall(f) => f.args.iter().for_each(|a| live_in_expr(a, out)),
        Expression::Parenthesis(p) => live_in_expr(p, out),
        Expression::Conditional(c) => {
            live_in_expr(&c.cond_expr, out);
            live_in_expr(&c.true_expr, out);
            live_in_expr(&c.false_expr, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => live_in_expr(&u.expr, out),
            hcl::expr::Operation::Binary(b) => {
                live_in_expr(&b.lhs_expr, out);
                live_in_expr(&b.rhs_expr, out);
            }
        },
        Expression::ForExpr(f) => {
            live_in_expr(&f.collection_expr, out);
            if let Some(k) = &f.key_expr {
                live_in_expr(k, out);
            }
            live_in_expr(&f.value_expr, out);
        }
        _ => {}
    }
}

/// A value holding the metacharacters of every language Sovereign writes.
const NASTY: &str = r#"x"'`$(touch PWNED)${file("/e")}%{if 1}{{.X}}\#;|&<>"#;

fn hostile_topology() -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/global-sovereign.toml"),
    )
    .unwrap();
    let mut t: toml::Table = toml::from_str(&text).unwrap();
    for site in t["sites"].as_array_mut().unwrap() {
        let s = site.as_table_mut().unwrap();
        s.insert("name".into(), NASTY.into());
        s.insert("role".into(), format!("role {NASTY}").into());
    }
    let p = t["project"].as_table_mut().unwrap();
    p.insert("environment".into(), "prod=a+b:c/d@e f_g.h-i é".into());
    let tags = p["tags"].as_table_mut().unwrap();
    tags.insert("Owner".into(), "team=a+b:c/d@e é".into());
    tags.insert("Cost Centre/x".into(), "@=+".into());
    let app = t["application"].as_table_mut().unwrap();
    app.insert("health_path".into(), "/h$(id)';&a=$b*+,@:%41?q".into());
    toml::to_string(&t).unwrap()
}

#[test]
fn topology_values_never_become_code() {
    let text = hostile_topology();
    let report = sovereign_check::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26));
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    // The display names keep their metacharacters (they are text); names a service receives
    // are refused long before a file is written.
    let v = report
        .validated
        .unwrap_or_else(|| panic!("the hostile topology must pass check: {errors:?}"));
    let tree = sovereign_render::render(&v, Catalog::builtin(), "hostile.toml").unwrap();
    let markers = ["touch PWNED", "$(id)", "file(\"/e\")", "{{.X}}", "%{if 1}"];
    let problems = judge_in_process(&tree, &markers);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The values arrive intact where they are used.
    let fly = tree.text("fly/phoenix-api/fly.toml").unwrap();
    let fly: toml::Table = toml::from_str(fly).unwrap();
    let checks = &fly["http_service"]["checks"][0]["path"];
    assert_eq!(checks.as_str(), Some("/h$(id)';&a=$b*+,@:%41?q"));
    let main = hcl::parse(tree.text("main.tf").unwrap()).unwrap();
    let mut literals = Vec::new();
    literals_in_body(&main, &mut literals);
    assert!(
        literals.iter().any(|l| l == "team=a+b:c/d@e é"),
        "{literals:?}"
    );
}

fn literals_in_body(body: &Body, out: &mut Vec<String>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => literals_in_expr(&a.expr, out),
            Structure::Block(b) => literals_in_body(&b.body, out),
        }
    }
}

fn literals_in_expr(e: &Expression, out: &mut Vec<String>) {
    match e {
        Expression::String(s) => out.push(s.clone()),
        Expression::TemplateExpr(t) => {
            if let Ok(tpl) = hcl::Template::from_expr(t) {
                let mut s = String::new();
                for el in tpl.elements() {
                    if let hcl::template::Element::Literal(l) = el {
                        s.push_str(l);
                    }
                }
                out.push(s);
            }
        }
        Expression::Array(items) => items.iter().for_each(|i| literals_in_expr(i, out)),
        Expression::Object(o) => o.iter().for_each(|(_, v)| literals_in_expr(v, out)),
        Expression::FuncCall(f) => f.args.iter().for_each(|a| literals_in_expr(a, out)),
        _ => {}
    }
}

#[test]
fn the_hostile_value_check_can_fail() {
    let mut tree = sovereign_render::Tree::new();
    tree.add("a.tf", "locals {\n  x = \"${file(\"/e\")}\"\n}\n");
    tree.add("deploy.sh", "#!/bin/sh\necho x$(touch PWNED)\n");
    tree.add(
        "monitoring/rules.yaml",
        "groups:\n  - name: g\n    rules: []\n# {{.X}}\n",
    );
    let problems = live_value_problems(&tree, &["touch PWNED", "file(", "{{.X}}"]).join("\n");
    assert!(problems.contains("a.tf"), "{problems}");
    assert!(problems.contains("deploy.sh"), "{problems}");
    assert!(problems.contains("monitoring/rules.yaml"), "{problems}");
}

// ---- generated topologies ---------------------------------------------------------------

mod generated {
    use super::*;
    use proptest::prelude::*;

    /// AWS sites to draw from: id, region, zone ids.
    const AWS: &[(&str, &str, &[&str])] = &[
        ("dub", "eu-west-1", &["euw1-az1", "euw1-az2", "euw1-az3"]),
        ("iad", "us-east-1", &["use1-az1", "use1-az2", "use1-az4"]),
        (
            "syd",
            "ap-southeast-2",
            &["apse2-az1", "apse2-az2", "apse2-az3"],
        ),
        (
            "sin",
            "ap-southeast-1",
            &["apse1-az1", "apse1-az2", "apse1-az3"],
        ),
        ("sfo", "us-west-1", &["usw1-az1", "usw1-az3"]),
        ("cmh", "us-east-2", &["use2-az1", "use2-az2", "use2-az3"]),
    ];
    const FLY: &[&str] = &["jnb", "ams", "gru"];
    const NAMES: &[&str] = &[
        "Dublin",
        NASTY,
        "São Paulo",
        "a 'quoted' \"name\"",
        "${x} %{y} {{z}}",
    ];

    #[derive(Debug, Clone)]
    struct Shape {
        aws: Vec<usize>,
        fly_only: Vec<usize>,
        names: Vec<usize>,
        secondaries: usize,
        cassandra: bool,
        redis_global: bool,
        dns: bool,
        budgets: bool,
        app: bool,
        nat_single: bool,
        spot: bool,
    }

    fn shape() -> impl Strategy<Value = Shape> {
        (
            proptest::sample::subsequence((0..AWS.len()).collect::<Vec<_>>(), 1..=AWS.len()),
            proptest::sample::subsequence((0..FLY.len()).collect::<Vec<_>>(), 0..=2),
            proptest::collection::vec(0..NAMES.len(), 9),
            0usize..5,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(
                    aws,
                    fly_only,
                    names,
                    secondaries,
                    cassandra,
                    redis_global,
                    dns,
                    budgets,
                    app,
                    nat_single,
                    spot,
                )| Shape {
                    aws,
                    fly_only,
                    names,
                    secondaries,
                    cassandra,
                    redis_global,
                    dns,
                    budgets,
                    app,
                    nat_single,
                    spot,
                },
            )
    }

    fn q(s: &str) -> String {
        toml::Value::String(s.to_string()).to_string()
    }

    fn topology(sh: &Shape) -> String {
        let mut s = String::from("[project]\nname = \"gen\"\ntags = { Team = \"a=b:c/d@e\" }\n");
        if sh.app {
            s.push_str(
                "\n[application]\nimage = \"ghcr.io/acme/api:1.0\"\nhealth_path = \"/h$(x)';&=\"\n",
            );
        }
        let mut ids = Vec::new();
        for (n, &i) in sh.aws.iter().enumerate() {
            let (id, region, azs) = AWS[i];
            ids.push(id);
            s.push_str(&format!(
                "\n[[sites]]\nid = \"{id}\"\nname = {}\nrole = {}\naws_region = \"{region}\"\nvpc_cidr = \"10.{}.0.0/16\"\navailability_zones = [{}]\n",
                q(NAMES[sh.names[n] % NAMES.len()]),
                q(NAMES[sh.names[(n + 1) % sh.names.len()] % NAMES.len()]),
                i + 1,
                azs.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut fly_ids = Vec::new();
        for &i in &sh.fly_only {
            let region = FLY[i];
            let id = format!("f{region}");
            s.push_str(&format!(
                "\n[[sites]]\nid = \"{id}\"\nfly_region = \"{region}\"\n"
            ));
            fly_ids.push(id);
        }
        if sh.nat_single {
            s.push_str("\n[network]\nnat_gateways = \"single\"\n");
        }
        s.push_str("\n[kubernetes]\npublic_access_cidrs = [\"198.51.100.0/24\"]\n");
        if sh.spot {
            s.push_str("\n[kubernetes.spot]\ninstance_types = [\"m5.large\", \"m5a.large\"]\nmin_size = 0\ndesired_size = 1\nmax_size = 3\n");
        }
        let secondaries: Vec<&str> = ids.iter().skip(1).take(sh.secondaries).copied().collect();
        s.push_str(&format!(
            "\n[postgres]\nprimary = \"{}\"\nsecondaries = [{}]\ninstance_class = \"db.r6g.large\"\n",
            ids[0],
            secondaries.iter().map(|x| format!("\"{x}\"")).collect::<Vec<_>>().join(", ")
        ));
        for f in &fly_ids {
            s.push_str(&format!("\n[[postgres.logical_replicas]]\nsite = \"{f}\"\nvia = \"{}\"\nlink = \"wireguard\"\n", ids[0]));
        }
        if sh.cassandra && ids.len() >= 2 {
            s.push_str(&format!(
                "\n[cassandra]\ncontrol_plane = \"{}\"\n",
                ids[ids.len() - 1]
            ));
            for id in &ids[..ids.len() - 1] {
                s.push_str(&format!("\n[[cassandra.datacenters]]\nsite = \"{id}\"\nnodes = 3\nreplication_factor = 3\n"));
            }
        }
        if sh.redis_global {
            let sites: Vec<&str> = ids.iter().take(3).copied().collect();
            s.push_str(&format!(
                "\n[redis]\nmode = \"global\"\nnode_type = \"cache.r6g.large\"\nsites = [{}]\n",
                sites
                    .iter()
                    .map(|x| format!("\"{x}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            s.push_str("\n[redis]\nnode_type = \"cache.t4g.medium\"\n");
        }
        if sh.dns {
            s.push_str("\n[dns]\nzone = \"gen.example.com\"\n");
        }
        if sh.budgets {
            s.push_str(
                "\n[budgets]\nmonthly_total_usd = 90000\nrecipients = [\"ops@example.com\"]\n",
            );
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any topology `check` accepts renders a tree every in-process judge accepts.
        #[test]
        fn accepted_topologies_render_judged_trees(sh in shape()) {
            let text = topology(&sh);
            let report = sovereign_check::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26));
            if let Some(v) = report.validated {
                let tree = sovereign_render::render(&v, Catalog::builtin(), "generated.toml")
                    .map_err(|e| TestCaseError::fail(format!("render failed: {e}\n{text}")))?;
                let problems = judge_in_process(&tree, &["touch PWNED", "file(\"/e\")", "{{.X}}", "{{z}}", "%{y}", "${x}"]);
                prop_assert!(problems.is_empty(), "{}\n--- topology ---\n{text}", problems.join("\n"));
            } else {
                // Generated shapes are meant to pass: a rejection is a generator bug worth seeing.
                let errors: Vec<String> = report.diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("{}: {}", d.code, d.message)).collect();
                prop_assert!(false, "generated topology rejected: {errors:?}\n{text}");
            }
        }
    }
}
