//! The persistent `chat api` client: error classes, restart once, timeouts.

use std::time::Duration;

use adapter_keybase::cli::{
    ClientError, KeybaseCli,
    requests::{PageRequest, ReadOptions},
};

use super::{standin::Client, world};

fn read(conversation_id: &str, next: Option<&str>) -> ReadOptions {
    ReadOptions {
        conversation_id: conversation_id.to_owned(),
        pagination: PageRequest {
            num: 2,
            next: next.map(str::to_owned),
        },
        peek: true,
    }
}

#[tokio::test]
async fn a_service_error_is_typed_and_the_process_carries_on() {
    let s = world::build();
    let mut api = s.cli().chat_api();
    let err = api
        .call("read", &read(&"0".repeat(64), None))
        .await
        .unwrap_err();
    assert!(err.is_service_error(), "{err:?}");
    assert!(
        matches!(&err, ClientError::Api { code: 0, message, .. } if message.contains("no conversations matched"))
    );
    let list = api.call("list", &serde_json::json!({})).await.unwrap();
    assert!(list.get().contains("conversations"));
    assert_eq!((api.starts(), api.requests()), (1, 2));
    api.close().await;
}

#[tokio::test]
async fn a_process_that_keeps_dying_is_restarted_once_then_reported() {
    let s = world::build();
    let mut api = s.cli().chat_api();
    // A cursor that is not base64 is a validation error: the real CLI exits on it.
    let err = api
        .call("read", &read(&"0".repeat(64), Some("not base64!")))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClientError::Died { .. }), "{text}");
    assert!(
        text.contains("illegal base64") && text.contains("keybase status"),
        "{text}"
    );
    assert_eq!(api.starts(), 2, "restarted exactly once");
    // The next call starts a fresh process.
    api.call("list", &serde_json::json!({})).await.unwrap();
    assert_eq!(api.starts(), 3);
}

#[tokio::test]
async fn missing_binaries_hangs_and_failing_commands_say_so() {
    let cli = KeybaseCli {
        binary: "/nonexistent/keybase".into(),
        ..KeybaseCli::default()
    };
    let err = cli
        .chat_api()
        .call("list", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Spawn { .. }));
    assert!(err.to_string().contains("/nonexistent/keybase"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow-keybase");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let slow = KeybaseCli {
        binary: script,
        timeout: Duration::from_millis(300),
        ..KeybaseCli::default()
    };
    let err = slow
        .chat_api()
        .call("list", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");

    let s = world::build();
    let err = s
        .cli()
        .run(&["fs", "ls", "-w", "/keybase/private/nobody"])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Command { stderr, .. } if stderr.contains("nobody")),
        "{err}"
    );
}
