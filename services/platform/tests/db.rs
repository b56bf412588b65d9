//! `platform::db`: one SQL text, native types, transactions and concurrent writers on both
//! backends.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    clock::Clock,
    db::{Db, Row},
    ids::new_id,
};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use crate::support::{TestEnv, count, migrations, on_both_backends};

on_both_backends!(round_trip_of_native_types, transactions_commit_and_roll_back, concurrent_writers_all_succeed);

const INSERT: &str =
    "INSERT INTO things (id, name, flag, payload, at, counter, note) VALUES ($1, $2, $3, $4, $5, $6, $7)";

async fn insert_thing(db: &Db, id: Uuid, name: &str) -> ohjaus_platform::db::DbResult<u64> {
    db.query(INSERT)
        .bind(id)
        .bind(name.to_owned())
        .bind(false)
        .bind(Json(json!({})))
        .bind(DateTime::<Utc>::UNIX_EPOCH)
        .bind(0_i64)
        .bind(None::<String>)
        .execute(db)
        .await
}

async fn names(db: &Db) -> Vec<String> {
    db.query("SELECT name FROM things ORDER BY name")
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String>("name").unwrap())
        .collect()
}

struct Thing {
    id: Uuid,
    name: String,
    flag: bool,
    payload: Value,
    at: DateTime<Utc>,
    counter: i64,
    note: Option<String>,
}

fn thing(row: &Row) -> Thing {
    Thing {
        id: row.get("id").unwrap(),
        name: row.get("name").unwrap(),
        flag: row.get("flag").unwrap(),
        payload: row.get::<Json<Value>>("payload").unwrap().0,
        at: row.get("at").unwrap(),
        counter: row.get("counter").unwrap(),
        note: row.get("note").unwrap(),
    }
}

async fn round_trip_of_native_types(env: TestEnv) {
    let db = &env.db;

    // Migrations are idempotent, on this handle and on a new one.
    db.migrate(&migrations()).await.unwrap();
    let again = env.connect_again().await;
    again.migrate(&migrations()).await.unwrap();
    again.close().await;
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM outbox").await, 0);

    // Ids made in a tight loop (many in the same millisecond) sort in the order they were made.
    let mut written = Vec::new();
    for i in 0..60_i64 {
        env.clock.advance(chrono::Duration::microseconds(1_234_567));
        let id = new_id();
        let name = format!("thing ä{i}");
        let flag = i % 3 == 0;
        let payload =
            json!({ "i": i, "text": "äöå \"quoted\"", "list": [1, 2.5, null, true], "nested": { "empty": {} } });
        let at = env.clock.now();
        let counter = match i {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => -i * 1_000_000_007,
        };
        let note = (i % 2 == 1).then(|| format!("note {i}"));
        let changed = db
            .query(INSERT)
            .bind(id)
            .bind(name.clone())
            .bind(flag)
            .bind(Json(payload.clone()))
            .bind(at)
            .bind(counter)
            .bind(note.clone())
            .execute(db)
            .await
            .unwrap();
        assert_eq!(changed, 1);
        written.push(Thing { id, name, flag, payload, at, counter, note });
    }
    // The first `at` has a fractional second; microseconds survive.
    assert_ne!(written[0].at.timestamp_subsec_micros(), 0);

    let rows = db
        .query("SELECT id, name, flag, payload, at, counter, note FROM things ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), written.len());
    for (row, expected) in rows.iter().map(thing).zip(&written) {
        assert_eq!(row.id, expected.id, "ordering by a UUIDv7 id is the order of creation");
        assert_eq!(row.name, expected.name);
        assert_eq!(row.flag, expected.flag);
        assert_eq!(row.payload, expected.payload);
        assert_eq!(row.at, expected.at);
        assert_eq!(row.counter, expected.counter);
        assert_eq!(row.note, expected.note);
    }

    // Parameters compare with native types, and a missing row is None.
    let middle = &written[30];
    let row = db
        .query("SELECT id, name, flag, payload, at, counter, note FROM things WHERE id = $1 AND at = $2 AND flag = $3")
        .bind(middle.id)
        .bind(middle.at)
        .bind(middle.flag)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(thing(&row).name, middle.name);
    let later = db.query("SELECT COUNT(*) AS n FROM things WHERE at > $1").bind(middle.at).fetch_one(db).await.unwrap();
    assert_eq!(later.get::<i64>("n").unwrap(), 29, "timestamps compare in time order");
    let missing = db.query("SELECT name FROM things WHERE id = $1").bind(new_id()).fetch_optional(db).await.unwrap();
    assert!(missing.is_none());
    let none = db.query("SELECT note FROM things WHERE id = $1").bind(written[0].id).fetch_one(db).await.unwrap();
    assert_eq!(none.get::<Option<String>>("note").unwrap(), None);

    // A row changed with bound values reads back changed.
    let changed = db
        .query("UPDATE things SET counter = counter + $1, flag = $2, note = $3 WHERE id = $4")
        .bind(5_i64)
        .bind(!middle.flag)
        .bind(None::<String>)
        .bind(middle.id)
        .execute(db)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let row = db
        .query("SELECT id, name, flag, payload, at, counter, note FROM things WHERE id = $1")
        .bind(middle.id)
        .fetch_one(db)
        .await
        .unwrap();
    let row = thing(&row);
    assert_eq!((row.counter, row.flag, row.note), (middle.counter + 5, !middle.flag, None));

    db.ping().await.unwrap();
}

async fn transactions_commit_and_roll_back(env: TestEnv) {
    let db = &env.db;

    // Rolled back: the transaction saw its own write, nobody else ever does.
    let rolled_back = new_id();
    let mut tx = db.begin().await.unwrap();
    tx.query(INSERT)
        .bind(rolled_back)
        .bind("rolled back".to_owned())
        .bind(true)
        .bind(Json(json!({"a": 1})))
        .bind(env.clock.now())
        .bind(1_i64)
        .bind(Some("x".to_owned()))
        .execute(&mut tx)
        .await
        .unwrap();
    let inside =
        tx.query("SELECT COUNT(*) AS n FROM things WHERE id = $1").bind(rolled_back).fetch_one(&mut tx).await.unwrap();
    assert_eq!(inside.get::<i64>("n").unwrap(), 1);
    tx.rollback().await.unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM things").await, 0);

    // Dropped without commit: rolled back as well.
    let mut tx = db.begin().await.unwrap();
    tx.query(INSERT)
        .bind(new_id())
        .bind("dropped".to_owned())
        .bind(true)
        .bind(Json(json!(null)))
        .bind(env.clock.now())
        .bind(1_i64)
        .bind(None::<String>)
        .execute(&mut tx)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM things").await, 0);

    // Committed: two writes in one transaction are both kept.
    let (first, second) = (new_id(), new_id());
    let mut tx = db.begin().await.unwrap();
    for (id, name) in [(first, "first"), (second, "second")] {
        tx.query(INSERT)
            .bind(id)
            .bind(name.to_owned())
            .bind(false)
            .bind(Json(json!([name])))
            .bind(env.clock.now())
            .bind(2_i64)
            .bind(None::<String>)
            .execute(&mut tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(names(db).await, ["first", "second"]);

    // A duplicate primary key is a unique violation, outside and inside a transaction.
    let error = insert_thing(db, first, "duplicate").await.unwrap_err();
    assert!(error.is_unique_violation(), "{error}");
    assert!(!error.is_foreign_key_violation(), "{error}");

    let mut tx = db.begin().await.unwrap();
    let error = tx
        .query(INSERT)
        .bind(second)
        .bind("duplicate".to_owned())
        .bind(false)
        .bind(Json(json!({})))
        .bind(env.clock.now())
        .bind(0_i64)
        .bind(None::<String>)
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(error.is_unique_violation(), "{error}");
    tx.rollback().await.unwrap();

    // Other errors are not unique violations.
    let error = db
        .query("INSERT INTO things (id, name, flag, payload, at, counter) VALUES ($1, NULL, $2, $3, $4, $5)")
        .bind(new_id())
        .bind(false)
        .bind(Json(json!({})))
        .bind(env.clock.now())
        .bind(0_i64)
        .execute(db)
        .await
        .unwrap_err();
    assert!(!error.is_unique_violation(), "{error}");

    assert_eq!(names(db).await, ["first", "second"]);
    // The pool is still healthy after the failed statements.
    insert_thing(db, new_id(), "third").await.unwrap();
    assert_eq!(names(db).await, ["first", "second", "third"]);
}

async fn concurrent_writers_all_succeed(env: TestEnv) {
    const WRITERS: usize = 20;
    let db = &env.db;
    let shared = new_id();
    insert_thing(db, shared, "shared counter").await.unwrap();

    let start = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let db = db.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut tx = db.begin().await?;
                tx.query(INSERT)
                    .bind(new_id())
                    .bind(format!("writer {i:02}"))
                    .bind(true)
                    .bind(Json(json!({ "writer": i })))
                    .bind(DateTime::<Utc>::UNIX_EPOCH)
                    .bind(i64::try_from(i).unwrap())
                    .bind(None::<String>)
                    .execute(&mut tx)
                    .await?;
                tx.query("UPDATE things SET counter = counter + 1 WHERE id = $1").bind(shared).execute(&mut tx).await?;
                tx.commit().await
            })
        })
        .collect();
    for (i, task) in futures::future::join_all(tasks).await.into_iter().enumerate() {
        task.unwrap().unwrap_or_else(|e| panic!("writer {i} failed: {e}"));
    }

    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM things WHERE flag = TRUE").await, 20);
    let row = db.query("SELECT counter FROM things WHERE id = $1").bind(shared).fetch_one(db).await.unwrap();
    assert_eq!(row.get::<i64>("counter").unwrap(), 20, "no update was lost");
}
