//! Every flaw in a provider's answer is refused; a rotated signing key is picked up.

use std::sync::Arc;

use ohjaus_integration_tests::{
    Backend, Browser, OidcPeer, Storage, TestSystem,
    hostile::{Flaw, HostileProvider},
};

on_both_backends!(flawed_id_tokens_are_refused_and_rotated_keys_accepted);

async fn flawed_id_tokens_are_refused_and_rotated_keys_accepted(backend: Backend) {
    let port = OidcPeer::port();
    let hostile = HostileProvider::start(port).await;
    let system = TestSystem::start_on(Arc::new(Storage::new(backend).await), &HostileProvider::settings(port)).await;
    system.ensure_customer("010280-952L").await;
    // A correct answer logs in, so each refusal below is the flaw's doing.
    let ok = login(&system).await;
    assert_eq!(ok.status, 303, "{:?}", ok.body);

    for flaw in [
        Flaw::BadSignature,
        Flaw::Tampered,
        Flaw::Expired,
        Flaw::WrongAudience,
        Flaw::WrongIssuer,
        Flaw::WrongNonce,
        Flaw::Unsigned,
        Flaw::MissingIdentityCode,
    ] {
        hostile.set_flaw(flaw);
        let refused = login(&system).await;
        assert_eq!(refused.status, 403, "{flaw:?} was accepted");
        let expected = if flaw == Flaw::MissingIdentityCode { "insufficient-assurance" } else { "invalid-response" };
        assert_eq!(refused.body["reason"], expected, "{flaw:?}: {:?}", refused.body);
    }

    // Key rotation: the connector reads the JWKS again when a token names a new key.
    hostile.set_flaw(Flaw::None);
    hostile.rotate_key();
    let rotated = login(&system).await;
    assert_eq!(rotated.status, 303, "after rotation: {:?}", rotated.body);
}

async fn login(system: &TestSystem) -> ohjaus_integration_tests::Reply {
    let mut browser = Browser::new(system);
    browser.follow(&system.url("/auth/login/hostile?intent=customer")).await
}
