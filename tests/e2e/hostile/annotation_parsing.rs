//! Hostile input: annotations (annotations::parse).

use super::*;

/// `MAX_VALUE` of annotations.rs, as its error message documents it.
pub(super) const MAX_ANNOTATION: usize = 4096;

pub(super) fn value_is_within_limits(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_ANNOTATION && !v.contains('\0') && v.trim() == v
}

pub(super) fn annotation_error(e: &AnnotationError, anns: &HashMap<String, String>) {
    let input_nl = anns.values().any(|v| v.contains('\n'));
    assert_error(e, &[Category::BadInput], if input_nl { "\n" } else { "" });
}

proptest! {
    #![proptest_config(config())]

    #[e2e_macros::test]
    fn annotations_are_parsed_within_limits_or_refused(
        anns in prop::collection::hash_map(annotation_key(), annotation_value(), 0..6),
    ) {
        match annotations::parse(&anns) {
            Ok(None) => {
                // Nothing asked: no output annotation at all.
                prop_assert!(!anns.contains_key(annotations::OUTPUT));
                prop_assert!(!anns.contains_key(annotations::TRACE_SYSCALL));
            }
            Ok(Some(r)) => {
                prop_assert!(value_is_within_limits(&r.output), "output {:?}", r.output);
                for v in [&r.base, &r.stats, &r.report].into_iter().flatten() {
                    prop_assert!(value_is_within_limits(v), "value {v:?}");
                }
                // Each path came from one annotation value, as written.
                prop_assert!(anns.values().any(|v| v.contains(r.output.as_str())));
            }
            Err(e) => annotation_error(&e, &anns),
        }
    }

    /// `[if:BASE;]of:OUT` with entries in any order and blanks around `;` gives back
    /// exactly the two paths.
    #[e2e_macros::test]
    fn trace_syscall_round_trips(
        out in "[^;\0\\s][^;\0]{0,60}[^;\0\\s]",
        base in prop::option::of("[^;\0\\s][^;\0]{0,60}[^;\0\\s]"),
        base_first in any::<bool>(),
        pad in prop::sample::select(vec!["", " ", "  ", "\t"]),
    ) {
        let mut entries = vec![format!("of:{out}")];
        if let Some(b) = &base {
            entries.insert(usize::from(!base_first), format!("if:{b}"));
        }
        let value = entries.join(&format!("{pad};{pad}"));
        let anns = HashMap::from([(annotations::TRACE_SYSCALL.to_owned(), value.clone())]);
        match annotations::parse(&anns) {
            Ok(Some(r)) => {
                prop_assert_eq!(&r.output, &out);
                prop_assert_eq!(&r.base, &base);
            }
            Ok(None) => prop_assert!(false, "nothing asked by {value:?}"),
            Err(e) => {
                // Only when the value is over the limit.
                prop_assert!(value.len() > MAX_ANNOTATION, "{value:?}: {e}");
            }
        }
    }
}

proptest! {
    #![proptest_config(heavy_config())]

    /// Values of 1-2 MB: refused for the keys we read, ignored for the others.
    #[e2e_macros::test]
    fn huge_annotations_are_refused(
        key in prop::sample::select(annotations::ALL.to_vec()),
        len in (MAX_ANNOTATION + 1)..(2 * 1024 * 1024),
        fill in prop::sample::select(vec!['a', '/', ';', 'é']),
    ) {
        let huge: String = std::iter::repeat_n(fill, len / fill.len_utf8() + 1).collect();
        let mut anns = HashMap::from([(key.to_owned(), huge.clone())]);
        if key != annotations::OUTPUT {
            anns.insert(annotations::OUTPUT.to_owned(), "x.json".to_owned());
        }
        let e = annotations::parse(&anns).expect_err("huge value accepted");
        prop_assert!(matches!(e, AnnotationError::BadValue { .. }), "{e:?}");
        prop_assert!(e.to_string().len() < 300, "the message quotes the value");
        annotation_error(&e, &anns);
        let other = HashMap::from([("unrelated".to_owned(), huge)]);
        prop_assert_eq!(annotations::parse(&other), Ok(None));
    }
}

#[e2e_macros::test]
fn annotation_limit_is_4096_bytes_and_nul_is_refused() {
    let at = |v: String| HashMap::from([(annotations::OUTPUT.to_owned(), v)]);
    let r = annotations::parse(&at("a".repeat(MAX_ANNOTATION)))
        .expect("4096 bytes")
        .expect("asked");
    assert_eq!(r.output.len(), MAX_ANNOTATION);
    for bad in [
        "a".repeat(MAX_ANNOTATION + 1),
        "é".repeat(MAX_ANNOTATION / 2 + 1),
        "a\0b".to_owned(),
        "\0".to_owned(),
        String::new(),
        " \t\n".to_owned(),
    ] {
        let e = annotations::parse(&at(bad.clone())).expect_err("refused");
        assert!(
            matches!(e, AnnotationError::BadValue { .. }),
            "{bad:?}: {e:?}"
        );
        assert_eq!(e.category().code(), 66);
    }
}
