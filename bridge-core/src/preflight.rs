//! What a pre-flight check (`kbbridge check`) found about one platform: a list of findings,
//! each fine, a note (something backfill does not need), or a problem (backfill would fail).
//!
//! Adapters build a [`Report`] by asking their platform what backfill will need; the binary
//! prints every finding and fails when any is a problem, so the operator sees all of them at
//! once rather than the first.

/// How a finding bears on the backfill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Checked and fine.
    Ok,
    /// Not needed by the backfill, or not verifiable here; worth knowing.
    Note,
    /// The backfill would fail (or do the wrong thing) until this is fixed.
    Problem,
}

/// One thing a pre-flight check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What was checked, for machines and tests: `token`, `guild`, `permissions`, `channel`,
    /// `homeserver`, `as_token`, `server_name`, `hs_token`…
    pub check: &'static str,
    /// The link the finding is about, when it is about one link's target.
    pub link: Option<String>,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was found and, for a problem, what to do about it.
    pub text: String,
}

/// Everything a pre-flight check found, in the order checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Adds a finding about the platform as a whole.
    pub fn add(&mut self, check: &'static str, verdict: Verdict, text: impl Into<String>) {
        self.findings.push(Finding {
            check,
            link: None,
            verdict,
            text: text.into(),
        });
    }

    /// Adds a finding about `link`'s target.
    pub fn add_for_link(
        &mut self,
        link: &str,
        check: &'static str,
        verdict: Verdict,
        text: impl Into<String>,
    ) {
        self.findings.push(Finding {
            check,
            link: Some(link.to_owned()),
            verdict,
            text: text.into(),
        });
    }

    /// The findings that are problems.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.verdict == Verdict::Problem)
    }

    /// The first finding of `check`.
    pub fn get(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_the_findings_that_block() {
        let mut r = Report::default();
        r.add("token", Verdict::Ok, "valid");
        r.add("hs_token", Verdict::Note, "not verified");
        r.add_for_link("l1", "channel", Verdict::Problem, "gone");
        let problems: Vec<_> = r.problems().collect();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].link.as_deref(), Some("l1"));
        assert_eq!(r.get("hs_token").map(|f| f.verdict), Some(Verdict::Note));
        assert!(r.get("guild").is_none());
    }
}
