//! Uploaded file names, cleaned as Discord cleans them.
//!
//! Discord's API runs on Flask, and an uploaded file's name comes back as werkzeug's
//! `secure_filename()` makes it (discord-api-docs #4292, #4847, #7754): Unicode decomposed
//! (NFKD) and everything non-ASCII dropped (`ñandú.png` → `nandu.png`), path separators and
//! runs of whitespace become one `_` (`photo 1.jpg` → `photo_1.jpg`), every character outside
//! `A-Z a-z 0-9 _ . -` is removed (`hello (world).png` → `hello_world.png`), and leading and
//! trailing `.` and `_` are trimmed (`_bug1.png` → `bug1.png`). A name with nothing left is
//! not documented; the stand-in calls it `unknown`.

use unicode_normalization::UnicodeNormalization;

/// The name Discord gives an upload named `name`.
pub fn discord_file_name(name: &str) -> String {
    let ascii: String = name
        .nfkd()
        .filter(char::is_ascii)
        .map(|c| if c == '/' || c == '\\' { ' ' } else { c })
        .collect();
    let joined = ascii.split_whitespace().collect::<Vec<_>>().join("_");
    let kept: String = joined
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .collect();
    let trimmed = kept.trim_matches(['.', '_']);
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::discord_file_name;

    #[test]
    fn names_are_cleaned_like_werkzeug_secure_filename() {
        for (given, kept) in [
            ("photo 1.jpg", "photo_1.jpg"),
            ("ñandú.png", "nandu.png"),
            ("hello (world).png", "hello_world.png"),
            ("_bug1.png", "bug1.png"),
            ("../../etc/passwd", "etc_passwd"),
            ("a/b\\c.txt", "a_b_c.txt"),
            ("  two  spaces .txt", "two_spaces_.txt"),
            ("Ångström ﬁle.pdf", "Angstrom_file.pdf"),
            ("画像.png", "png"),
            ("日本", "unknown"),
            ("sunset.png", "sunset.png"),
            ("report-v2_final.tar.gz", "report-v2_final.tar.gz"),
        ] {
            assert_eq!(discord_file_name(given), kept, "{given:?}");
        }
    }
}
