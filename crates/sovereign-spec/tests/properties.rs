//! Property tests for the parser: no input makes it panic, and what it reads from generated
//! topologies is exactly what was written, with spans that point at the written text.

use proptest::prelude::*;
use sovereign_spec::{Template, parse};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse(&text);
    }

    #[test]
    fn toml_like_text_never_panics(
        lines in prop::collection::vec(
            prop_oneof![
                Just("[project]".to_string()),
                Just("[[sites]]".to_string()),
                Just("[postgres]".to_string()),
                Just("[[cassandra.datacenters]]".to_string()),
                "[a-z_]{1,12} = \"[a-z0-9./-]{0,12}\"",
                "[a-z_]{1,12} = -?[0-9]{1,25}",
                "[a-z_]{1,12} = \\[(\"[a-z0-9-]{0,6}\", ){0,4}\\]",
                "[a-z_]{1,12} = \\{ [a-z]{1,5} = [0-9]{1,3} \\}",
                "[a-z_]{1,12} = (true|false|1\\.5e9|inf|nan)",
            ],
            0..30,
        )
    ) {
        let text = lines.join("\n");
        let _ = parse(&text);
    }

    #[test]
    fn dropping_lines_of_the_default_never_panics(skip in prop::collection::vec(any::<bool>(), 300)) {
        let text: String = Template::GlobalSovereign
            .text()
            .lines()
            .zip(skip.iter().chain(std::iter::repeat(&false)))
            .filter(|(_, s)| !**s)
            .map(|(l, _)| format!("{l}\n"))
            .collect();
        let out = parse(&text);
        if out.topology.is_none() {
            prop_assert!(out.diagnostics.iter().any(|d| d.is_error()));
        }
    }

    #[test]
    fn generated_sites_round_trip(
        sites in prop::collection::vec(("[a-z][a-z0-9]{0,7}", 1u8..=250, any::<bool>(), 0u32..=10), 1..20)
    ) {
        let mut text = String::from("[project]\nname = \"gen\"\n");
        for (id, octet, peering, _) in &sites {
            text.push_str(&format!(
                "\n[[sites]]\nid = \"{id}\"\naws_region = \"eu-west-1\"\nvpc_cidr = \"10.{octet}.0.0/16\"\npeering = {peering}\n"
            ));
        }
        let out = parse(&text);
        prop_assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let t = out.topology.unwrap();
        prop_assert_eq!(t.sites.len(), sites.len());
        for (site, (id, octet, peering, _)) in t.sites.iter().zip(&sites) {
            prop_assert_eq!(&site.id.value, id);
            prop_assert_eq!(site.peering.value, *peering);
            let span = site.id.span.clone().unwrap();
            prop_assert_eq!(&text[span], format!("\"{id}\""));
            let cidr = site.vpc_cidr.as_ref().unwrap();
            prop_assert_eq!(&text[cidr.span.clone().unwrap()], format!("\"10.{octet}.0.0/16\""));
        }
    }
}

#[test]
fn templates_parse_cleanly() {
    for t in Template::ALL {
        let out = parse(t.text());
        assert!(
            out.diagnostics.is_empty(),
            "{}: {:?}",
            t.name(),
            out.diagnostics
        );
        assert!(out.topology.is_some());
    }
}
