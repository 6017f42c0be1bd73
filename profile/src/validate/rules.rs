//! Duplicate and contradicting unconditional rules.

use super::*;

/// (c): duplicates and contradictions among unconditional rules.
pub(super) fn check_rules(c: &mut Checker, model: &Model, format: Format) {
    // name -> (rule index, path, action) of its first unconditional occurrence.
    let mut first: HashMap<&str, (usize, &str, Effective)> = HashMap::new();
    for (ri, rule) in model.rules.iter().enumerate() {
        if rule.conditional {
            continue;
        }
        let Some(action) = rule.action else { continue };
        for (path, name) in &rule.names {
            let Some((fi, fpath, faction)) = first.get(name.as_str()).copied() else {
                first.insert(name, (ri, path, action));
                continue;
            };
            let same_rule = fi == ri;
            if faction == action {
                if same_rule && format == Format::Spo {
                    c.error(
                        path,
                        format!("{name:?} is listed twice in this rule (also at {fpath}); the CRD's names are a set"),
                    );
                } else if same_rule {
                    c.warn(
                        path,
                        format!("{name:?} is listed twice in this rule (also at {fpath})"),
                    );
                } else {
                    c.warn(
                        path,
                        format!(
                            "duplicate: {name:?} is already in {} with the same action {action}",
                            model.rules[fi].path
                        ),
                    );
                }
            } else {
                c.error(
                    path,
                    format!(
                        "contradiction: {name:?} is {action} here but {faction} in {}; libseccomp would keep only one of them",
                        model.rules[fi].path
                    ),
                );
            }
        }
    }
}
