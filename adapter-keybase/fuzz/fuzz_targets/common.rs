//! Shared by the targets: read everything an export yields and check the reader's invariants.

use adapter_keybase::KeybaseExport;
use bridge_core::Cursor;

/// Pages through every chat and checks that every line is accounted for.
pub fn read_everything(export: &KeybaseExport) {
    assert!(export.stats().balanced(), "unbalanced stats: {:?}", export.stats());
    let mut total = 0;
    for chat in export.chats() {
        let mut cursor: Option<Cursor> = None;
        let mut last_id = 0u64;
        loop {
            let page = export
                .read_page(&chat.chat, cursor.as_ref(), 7)
                .expect("an indexed export reads back");
            for m in &page.messages {
                let id: u64 = m.origin.msg.as_str().parse().expect("decimal ids");
                assert!(id > last_id, "pages go oldest first without repeats");
                last_id = id;
            }
            total += page.messages.len() as u64;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    assert_eq!(total, export.stats().messages, "pages yield every indexed message");
}
