use super::*;
use crate::model::DeviceId;

#[test]
fn a_secret_file_is_created_whole_and_a_short_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwt-secret");
    let made = read_or_create_secret(&path, || random_secret(64)).unwrap();
    assert_eq!(made.len(), 64);
    assert_eq!(
        read_or_create_secret(&path, || unreachable!()).unwrap(),
        made
    );
    assert!(!dir.path().join("jwt-secret.part").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for short in ["", "\n", "too-short-to-sign-with"] {
        std::fs::write(&path, short).unwrap();
        let refused = read_or_create_secret(&path, || unreachable!()).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::InvalidData);
        assert!(refused.to_string().contains("jwt-secret"), "{refused}");
    }
}

/// A token issued with a configured key is refused once the daemon runs without that key.
#[tokio::test]
async fn a_token_ends_with_the_configured_key_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.storage.data_dir = dir.path().to_owned();
    std::fs::create_dir_all(dir.path()).unwrap();
    let store = Store::open(&settings.storage, crate::bus::EventBus::new()).unwrap();
    let authenticator = |keys: Vec<ApiKeySetting>| {
        let mut settings = settings.clone();
        settings.auth.api_keys = keys;
        Authenticator::new(&settings, store.clone(), &random_secret(64))
    };
    let configured = ApiKeySetting {
        name: "ops".into(),
        key: Some("configured-secret-0123456789".into()),
        key_sha256: None,
        devices: vec!["*".into()],
        scopes: vec!["read".into()],
    };
    let with_key = authenticator(vec![configured.clone()]);
    let caller = with_key
        .identify(configured.key.as_deref(), None)
        .await
        .unwrap();
    let wanted = grant(&["demo"], &[Scope::Read]);
    let issued = Grant {
        key: caller.issuer_of(&wanted).unwrap().key.clone(),
        ..wanted
    };
    let (token, _) = with_key.issue_token(&issued, 600);
    assert!(with_key.identify(None, Some(&token)).await.is_ok());
    let without_key = authenticator(Vec::new());
    assert!(matches!(
        without_key.identify(None, Some(&token)).await,
        Err(AuthError::Unauthorized)
    ));
}

fn grant(devices: &[&str], scopes: &[Scope]) -> Grant {
    Grant {
        subject: "t".into(),
        key: "key_t".into(),
        devices: devices.iter().map(|d| d.to_string()).collect(),
        scopes: scopes.iter().copied().collect(),
        expires: None,
        profile: None,
    }
}

#[test]
fn admin_implies_every_scope_but_devices_still_limit() {
    let caller = Caller {
        grants: vec![grant(&["demo"], &[Scope::Admin])],
    };
    let demo = DeviceId::parse("demo").unwrap();
    let other = DeviceId::parse("other").unwrap();
    assert!(caller.authorize(Scope::Control, Some(&demo)).is_ok());
    assert!(matches!(
        caller.authorize(Scope::Read, Some(&other)),
        Err(AuthError::Forbidden(_))
    ));
}

#[test]
fn either_grant_is_enough() {
    let caller = Caller {
        grants: vec![grant(&["a"], &[Scope::Read]), grant(&["b"], &[Scope::Send])],
    };
    assert!(caller
        .authorize(Scope::Send, Some(&DeviceId::parse("b").unwrap()))
        .is_ok());
    assert!(caller
        .authorize(Scope::Send, Some(&DeviceId::parse("a").unwrap()))
        .is_err());
}

#[test]
fn tokens_only_narrow() {
    let all = grant(&["*"], &[Scope::Read, Scope::Send]);
    assert!(all.covers(&grant(&["demo"], &[Scope::Read])));
    assert!(!all.covers(&grant(&["demo"], &[Scope::Control])));
    let one = grant(&["demo"], &[Scope::Admin]);
    assert!(!one.covers(&grant(&["*"], &[Scope::Read])));
    assert!(one.covers(&grant(&["demo"], &[Scope::Control])));
}

#[test]
fn a_caller_sees_all_that_another_sees_only_within_its_own_devices() {
    let caller = |grants: &[&[&str]]| Caller {
        grants: grants
            .iter()
            .map(|devices| grant(devices, &[Scope::Read]))
            .collect(),
    };
    let everything = caller(&[&["*"]]);
    let a_and_b = caller(&[&["a"], &["b"]]);
    let a = caller(&[&["a"]]);
    assert!(everything.sees_all_that(&everything));
    assert!(everything.sees_all_that(&a_and_b));
    assert!(a_and_b.sees_all_that(&caller(&[&["a", "b"]])));
    assert!(a_and_b.sees_all_that(&a));
    assert!(!a.sees_all_that(&a_and_b));
    assert!(!a_and_b.sees_all_that(&everything));
}

/// An access token is told from an API key by its shape alone, so that a bearer value can be
/// either; an expired or foreign token still looks like one, and is refused as a token.
#[test]
fn a_token_is_told_from_an_api_key_by_its_shape() {
    let key = NewKey::generate("agent".into(), vec!["*".into()], vec![Scope::Read]);
    assert!(!is_access_token(&key.secret));
    assert!(!is_access_token("a configured key with spaces"));
    let foreign = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({ "sub": "someone" }),
        &EncodingKey::from_secret(b"another daemon's secret"),
    )
    .unwrap();
    assert!(is_access_token(&foreign));
}
