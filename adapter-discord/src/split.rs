//! Splitting text longer than Discord's 2,000 characters at safe boundaries: a paragraph, a
//! line, a sentence, a space, in that order of preference; a code block cut in two is closed
//! and reopened. Characters are counted as Discord does (code points).

/// Discord's content limit, in characters.
pub const MAX_CHARS: usize = 2000;

/// Splits `text` into chunks so that the first, with `head` characters before it, fits in
/// [`MAX_CHARS`]; every other chunk fits alone; and the last, with `tail` characters after it,
/// fits too. Empty text gives one empty chunk.
pub fn layout(text: &str, head: usize, tail: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text.to_owned();
    loop {
        let budget = MAX_CHARS
            .saturating_sub(if out.is_empty() { head } else { 0 })
            .max(8);
        let len = rest.chars().count();
        if len + tail <= budget {
            out.push(rest);
            return out;
        }
        // If the rest fits but not with the tail, leave room so the tail goes in the next one.
        let max = if len <= budget {
            budget.saturating_sub(tail).max(4)
        } else {
            budget
        };
        let (mut end, mut next) = cut(&rest, max);
        let mut piece = rest[..end].to_owned();
        let mut reopen = false;
        if piece.matches("```").count() % 2 == 1 {
            (end, next) = cut(&rest, max.saturating_sub(4).max(4));
            piece = rest[..end].to_owned();
            if piece.matches("```").count() % 2 == 1 {
                piece.push_str("\n```");
                reopen = true;
            }
        }
        let remainder = &rest[next..];
        rest = if reopen {
            format!("```\n{remainder}")
        } else {
            remainder.to_owned()
        };
        out.push(piece);
    }
}

/// Where to cut `s` to keep at most `max` characters: (end of the piece, start of the rest).
fn cut(s: &str, max: usize) -> (usize, usize) {
    let Some((limit, _)) = s.char_indices().nth(max) else {
        return (s.len(), s.len());
    };
    let window = &s[..limit];
    // A boundary in the first half would make a short piece: cut hard instead.
    let floor = limit / 2;
    if let Some(i) = window.rfind("\n\n").filter(|i| *i > floor) {
        return (i, i + 2);
    }
    if let Some(i) = window.rfind('\n').filter(|i| *i > floor) {
        return (i, i + 1);
    }
    for p in [". ", "! ", "? ", "; ", ", "] {
        if let Some(i) = window.rfind(p).filter(|i| *i > floor) {
            return (i + 1, i + 2);
        }
    }
    if let Some((i, c)) = window
        .char_indices()
        .rev()
        .find(|(i, c)| c.is_whitespace() && *i > floor)
    {
        return (i, i + c.len_utf8());
    }
    (limit, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(layout("hello", 20, 10), vec!["hello".to_owned()]);
        assert_eq!(layout("", 0, 0), vec![String::new()]);
    }

    #[test]
    fn long_text_splits_at_sentences_and_respects_head_and_tail() {
        let sentence = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ";
        let text = sentence.repeat(80);
        let parts = layout(&text, 300, 200);
        assert!(parts.len() >= 3);
        assert!(chars(&parts[0]) + 300 <= MAX_CHARS);
        assert!(parts.iter().all(|p| chars(p) <= MAX_CHARS));
        assert!(chars(parts.last().unwrap()) + 200 <= MAX_CHARS);
        assert!(
            parts[0].ends_with('.'),
            "{:?}",
            &parts[0][parts[0].len() - 10..]
        );
        // Only the boundary spaces are lost.
        let joined: String = parts.join(" ");
        assert_eq!(joined.trim_end(), text.trim_end());
    }

    #[test]
    fn text_without_spaces_is_cut_hard() {
        let text = "é".repeat(4500);
        let parts = layout(&text, 0, 0);
        assert_eq!(
            parts.iter().map(|p| chars(p)).collect::<Vec<_>>(),
            vec![2000, 2000, 500]
        );
    }

    #[test]
    fn a_code_block_cut_in_two_is_closed_and_reopened() {
        let text = format!("```\n{}```", "let x = 1;\n".repeat(300));
        let parts = layout(&text, 0, 0);
        assert!(parts.len() >= 2);
        for p in &parts {
            assert_eq!(p.matches("```").count() % 2, 0, "{p}");
            assert!(chars(p) <= MAX_CHARS);
        }
    }

    #[test]
    fn utf8_is_never_cut_inside_a_character() {
        let text = "👍🏽 ".repeat(1000);
        for p in layout(&text, 17, 40) {
            assert!(chars(&p) <= MAX_CHARS);
        }
    }
}
