//! "Did you mean …?": the closest known word to a misspelt one.

/// The candidate closest to `word`, if one is close enough to be a plausible typo: a few edits
/// away (transpositions count as one), or containing it (`per_sec` → `messages_per_second`).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    let len = word.chars().count();
    let max_edits = (len / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    let mut containing = None;
    for candidate in candidates {
        let distance = edit_distance(&word, candidate);
        if distance <= max_edits && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
        let long_enough = len >= 3 && candidate.len() >= 3;
        if containing.is_none()
            && long_enough
            && (candidate.contains(&*word) || word.contains(candidate))
        {
            containing = Some(candidate);
        }
    }
    best.map(|(_, c)| c).or(containing)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of adjacent characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK_KEYS: [&str; 5] = ["name", "keybase", "discord", "matrix", "mode"];

    #[test]
    fn counts_a_transposition_as_one_edit() {
        assert_eq!(edit_distance("discrod", "discord"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_close_or_containing_words() {
        assert_eq!(did_you_mean("discrod", LINK_KEYS), Some("discord"));
        assert_eq!(did_you_mean("Matrix", LINK_KEYS), Some("matrix"));
        assert_eq!(did_you_mean("nmae", LINK_KEYS), Some("name"));
        let rate = ["messages_per_second", "burst"];
        assert_eq!(did_you_mean("per_sec", rate), Some("messages_per_second"));
        assert_eq!(did_you_mean("telegram", LINK_KEYS), None);
        assert_eq!(did_you_mean("x", LINK_KEYS), None);
    }
}
