//! The surveys service through its gRPC face (principal tokens signed and verified as between
//! services), each test body on SQLite and on PostgreSQL, each run in a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use ohjaus_platform::{
    auth::{Membership, Principal, Role, TokenKeys},
    clock::SharedClock,
    error::{ErrorCode, Failure},
    events::Outbox,
    grpc::{self, Transport},
    proto::surveys::v1::{self as pb, surveys_service_client::SurveysServiceClient},
};
use ohjaus_surveys::{EMBEDDED_INSTRUMENTS, Surveys};
use ohjaus_test_support::{Harness, TestEnv, open_keyring};
use tonic::{Code, Request};
use uuid::Uuid;

const HARNESS: Harness = Harness {
    service: ohjaus_surveys::SERVICE,
    migrations: ohjaus_surveys::migrations,
    database_prefix: "ohjaus_surveys_t",
    bus: false,
    settings: &[],
};

async fn run<F, Fut>(backend: ohjaus_test_support::Backend, body: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    HARNESS.run(backend, body).await;
}

ohjaus_test_support::on_both_backends!(
    crate::run;
    the_shipped_meter_is_stored_once_at_start_and_read_by_anyone_signed_in,
    the_operator_loads_a_new_version_and_a_changed_version_is_refused,
    only_the_operator_loads_instruments,
    every_invalid_field_of_a_file_is_named_at_once,
    an_unknown_instrument_or_version_is_not_found,
);

/// The service, its key store opened as the binary opens it. The workspaces service is not
/// reached by the instruments' RPCs (the rounds are tested with the whole system).
async fn client(env: &TestEnv) -> (Surveys, SurveysServiceClient<Transport>) {
    let clock: SharedClock = Arc::new(env.clock.clone());
    let keys = TokenKeys::from_settings(&env.settings.auth, clock.clone()).unwrap();
    let keyring = open_keyring(&env.settings, ohjaus_surveys::SERVICE).await;
    let nowhere = grpc::remote("http://127.0.0.1:9", &keys, Duration::from_secs(1)).unwrap();
    let surveys =
        Surveys::new(env.db.clone(), clock.clone(), Outbox::new(ohjaus_surveys::SERVICE, clock), keyring, nowhere);
    let client = SurveysServiceClient::new(grpc::in_process(surveys.server(), &keys, Duration::from_secs(10)));
    (surveys, client)
}

fn as_<T>(principal: &Principal, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(principal.clone());
    request
}

fn operator() -> Principal {
    Principal::Operator { subject: "operator".into() }
}

fn guide() -> Principal {
    Principal::Expert {
        person_id: Uuid::now_v7(),
        memberships: vec![Membership { tenant_id: Uuid::now_v7(), roles: vec![Role::Guide, Role::Admin] }],
    }
}

fn customer() -> Principal {
    Principal::Customer { customer_id: Uuid::now_v7() }
}

fn get(id: &str, version: u32) -> pb::GetInstrumentRequest {
    pb::GetInstrumentRequest { instrument_id: id.into(), version }
}

/// The shipped file as version 2 with one English text changed.
fn version_two() -> String {
    EMBEDDED_INSTRUMENTS[0]
        .replace("version = 1", "version = 2")
        .replace("en = \"your health\"", "en = \"your state of health\"")
}

async fn outbox_subjects(env: &TestEnv) -> Vec<String> {
    let rows = env.db.query("SELECT subject FROM outbox ORDER BY id").fetch_all(&env.db).await.unwrap();
    rows.iter().map(|r| r.get::<String>("subject").unwrap()).collect()
}

async fn the_shipped_meter_is_stored_once_at_start_and_read_by_anyone_signed_in(env: TestEnv) {
    let (surveys, mut client) = client(&env).await;
    surveys.load_embedded_instruments().await.unwrap();
    surveys.load_embedded_instruments().await.unwrap();
    assert_eq!(outbox_subjects(&env).await, ["surveys.instrument_loaded"], "a second start stores nothing");

    for reader in [guide(), customer(), operator()] {
        let meter = client.get_instrument(as_(&reader, get("3x10d", 0))).await.unwrap().into_inner();
        assert_eq!((meter.id.as_str(), meter.version, meter.attribution.as_str()), ("3x10d", 1, "3X10D® Diak"));
        assert_eq!(meter.items.len(), 10);
        assert_eq!(meter.items[9].text.as_ref().unwrap().fi, "elämääsi kokonaisuutena");
        let bands: Vec<(u32, u32)> = meter.bands.iter().map(|b| (b.from, b.to)).collect();
        assert_eq!(bands, [(0, 5), (6, 7), (8, 10)]);
        let scale = meter.scale.unwrap();
        assert_eq!((scale.min, scale.max), (0, 10));
        assert_eq!(scale.anchors.first().unwrap().label.as_ref().unwrap().en, "very dissatisfied");
    }
    let listed = client.list_instruments(as_(&customer(), pb::ListInstrumentsRequest {})).await.unwrap().into_inner();
    assert_eq!(listed.instruments.len(), 1);
    let unsigned = client.get_instrument(Request::new(get("3x10d", 1))).await.unwrap_err();
    assert_eq!(unsigned.code(), Code::Unauthenticated);
}

async fn the_operator_loads_a_new_version_and_a_changed_version_is_refused(env: TestEnv) {
    let (surveys, mut client) = client(&env).await;
    surveys.load_embedded_instruments().await.unwrap();
    let load = |document: String| as_(&operator(), pb::LoadInstrumentRequest { document });

    let second = client.load_instrument(load(version_two())).await.unwrap().into_inner();
    assert_eq!(second.version, 2);
    let again = client.load_instrument(load(version_two())).await.unwrap().into_inner();
    assert_eq!(again, second, "loading the same file again answers with what is stored");

    // Version 1 with a changed text: refused, and the stored version 1 stays as it was.
    let edited = EMBEDDED_INSTRUMENTS[0].replace("en = \"your health\"", "en = \"your physical health\"");
    let refused = client.load_instrument(load(edited)).await.unwrap_err();
    let failure = Failure::from_status(&refused);
    assert_eq!(failure.code, ErrorCode::AlreadyExists);
    assert_eq!(failure.violations[0].reason, "instrument-version-changed");
    let first = client.get_instrument(as_(&guide(), get("3x10d", 1))).await.unwrap().into_inner();
    assert_eq!(first.items[0].text.as_ref().unwrap().en, "your health");

    let newest = client.get_instrument(as_(&guide(), get("3x10d", 0))).await.unwrap().into_inner();
    assert_eq!(newest.version, 2);
    assert_eq!(newest.items[0].text.as_ref().unwrap().en, "your state of health");
    let listed = client.list_instruments(as_(&guide(), pb::ListInstrumentsRequest {})).await.unwrap().into_inner();
    let versions: Vec<u32> = listed.instruments.iter().map(|i| i.version).collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(outbox_subjects(&env).await.len(), 2, "one event per stored version");

    // The shipped version 1 is still what is stored: a restart goes on.
    surveys.load_embedded_instruments().await.unwrap();
}

async fn only_the_operator_loads_instruments(env: TestEnv) {
    let (_surveys, mut client) = client(&env).await;
    for caller in [guide(), customer()] {
        let status = client
            .load_instrument(as_(&caller, pb::LoadInstrumentRequest { document: version_two() }))
            .await
            .unwrap_err();
        assert_eq!(Failure::from_status(&status).code, ErrorCode::PermissionDenied, "{caller:?}");
    }
    let unsigned =
        client.load_instrument(Request::new(pb::LoadInstrumentRequest { document: version_two() })).await.unwrap_err();
    assert_eq!(unsigned.code(), Code::Unauthenticated);
    assert!(outbox_subjects(&env).await.is_empty());
}

async fn every_invalid_field_of_a_file_is_named_at_once(env: TestEnv) {
    let (_surveys, mut client) = client(&env).await;
    let broken = version_two().replace("from = 8", "from = 9").replace("key = \"family\"", "key = \"health\"");
    let status =
        client.load_instrument(as_(&operator(), pb::LoadInstrumentRequest { document: broken })).await.unwrap_err();
    let failure = Failure::from_status(&status);
    assert_eq!(failure.code, ErrorCode::InvalidArgument);
    let fields: Vec<(&str, &str)> = failure.violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
    assert_eq!(
        fields,
        [("bands[2].from", "instrument-bands-not-contiguous"), ("items[4].key", "instrument-key-repeated")]
    );
    let unreadable = client
        .load_instrument(as_(&operator(), pb::LoadInstrumentRequest { document: "<xml/>".into() }))
        .await
        .unwrap_err();
    assert_eq!(Failure::from_status(&unreadable).violations[0].reason, "instrument-unreadable");
    assert!(outbox_subjects(&env).await.is_empty());
}

async fn an_unknown_instrument_or_version_is_not_found(env: TestEnv) {
    let (surveys, mut client) = client(&env).await;
    surveys.load_embedded_instruments().await.unwrap();
    for request in [get("3x10d", 7), get("kysely", 0)] {
        let status = client.get_instrument(as_(&guide(), request)).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
    }
    let blank = client.get_instrument(as_(&guide(), get(" ", 0))).await.unwrap_err();
    assert_eq!(Failure::from_status(&blank).violations[0].field, "instrument_id");
}
