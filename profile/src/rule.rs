//! Rules as values: one canonical text per rule, so that rules can be compared and
//! kept once (diff, merge).

use oci_spec::runtime::LinuxSyscall;

/// A rule as compact JSON with its names sorted: equal rules give equal text.
pub fn canonical_rule(rule: &LinuxSyscall) -> String {
    let mut r = rule.clone();
    let mut names = r.names().clone();
    names.sort();
    names.dedup();
    r.set_names(names);
    // Serializing oci-spec's own types cannot fail; a failure would only lose detail.
    serde_json::to_string(&r).unwrap_or_else(|_| format!("{r:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_rules_sort_names() {
        let mut r = LinuxSyscall::default();
        r.set_names(vec!["b".into(), "a".into(), "b".into()]);
        assert_eq!(
            canonical_rule(&r),
            r#"{"names":["a","b"],"action":"SCMP_ACT_ALLOW"}"#
        );
    }
}
