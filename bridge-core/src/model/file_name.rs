//! Attachment file names made safe to show, store and upload under, whatever a platform's
//! user named the file: every source adapter puts its attachments' names through
//! [`safe_file_name`], so no sink meets a path, a control character or an endless name.

/// The longest file name kept (bytes): room is left for a prefix a store may add (the Keybase
/// exporter's `<id>-`) within the usual 255-byte limit.
const MAX_NAME_BYTES: usize = 200;

/// An attachment's file name made safe to store and show: path separators, NUL, control
/// characters and the bidirectional overrides that make `evil\u{202e}gpj.exe` look like
/// `evilexe.jpg` become `_`, `..` becomes `__`, an empty or dot-only name becomes `file`, and
/// long names are cut (keeping the extension). The same name always gives the same result, so
/// a reader can find a file stored under it.
pub fn safe_file_name(name: &str) -> String {
    if name.trim_matches('.').is_empty() {
        return "file".to_owned();
    }
    let mut s: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || is_bidi_control(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    while s.contains("..") {
        s = s.replace("..", "__");
    }
    if s.len() > MAX_NAME_BYTES {
        let ext = s
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| e.len() <= 16)
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let mut cut = MAX_NAME_BYTES - ext.len();
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s = format!("{}{ext}", &s[..cut]);
    }
    s
}

/// The characters that reorder the text around them (Unicode's explicit directional
/// formatting characters and marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(safe_file_name("sunset.jpg"), "sunset.jpg");
        assert_eq!(safe_file_name("../../etc/passwd"), "______etc_passwd");
        assert_eq!(safe_file_name("a\\b\0c"), "a_b_c");
        assert_eq!(safe_file_name(".."), "file");
        assert_eq!(safe_file_name(""), "file");
        assert_eq!(safe_file_name(".hidden"), ".hidden");
        assert_eq!(safe_file_name("evil\u{202e}gpj.exe"), "evil_gpj.exe");
        assert_eq!(safe_file_name("a\u{2066}b\u{200f}c.txt"), "a_b_c.txt");
        assert_eq!(safe_file_name("dir/inner.txt"), "dir_inner.txt");
        assert_eq!(safe_file_name("tab\there\n.txt"), "tab_here_.txt");
        assert_eq!(safe_file_name("日本語.pdf"), "日本語.pdf");
        let long = format!("{}.png", "é".repeat(300));
        let safe = safe_file_name(&long);
        assert!(safe.len() <= MAX_NAME_BYTES && safe.ends_with(".png"));
    }
}
