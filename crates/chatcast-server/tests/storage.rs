//! The storage contract, run against every backend: the same test bodies on
//! SQLite (a fresh file) and on PostgreSQL (a fresh database on the server
//! named by `CHATCAST_TEST_DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/test`).
//! A PostgreSQL that cannot be reached fails these tests and says why.

use std::sync::Arc;

use chatcast_protocol::{Author, ConversationState, MessageKind, PageInfo, PrivacySettings};
use chatcast_server::storage::{self, ConversationChange as Change, Database, NewMessage, NewSession, Role, StorageError};

type Db = Arc<dyn Database>;

/// The server the PostgreSQL runs create their databases on.
fn pg_admin_url() -> String {
    std::env::var("CHATCAST_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let cut = base.rfind('/').filter(|i| *i > "postgres://".len()).unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A fresh PostgreSQL database, dropped by [`PgTemp::drop_db`].
struct PgTemp {
    admin: sqlx::PgPool,
    name: String,
    db: Db,
}

impl PgTemp {
    async fn new() -> PgTemp {
        let url = pg_admin_url();
        let admin = sqlx::PgPool::connect(&url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {url} cannot be reached ({e}); set CHATCAST_TEST_DATABASE_URL or start one (scripts/test does)")
        });
        let name = format!("chatcast_t_{}", chatcast_server::auth::new_token()[..12].to_lowercase());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        let db = storage::open(&with_database(&url, &name)).await.unwrap();
        PgTemp { admin, name, db }
    }

    async fn drop_db(self) {
        self.db.close().await;
        drop(self.db);
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&self.admin)
            .await;
    }
}

/// Each test body, on SQLite and on PostgreSQL.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("t.db").display());
                let db = chatcast_server::storage::open(&url).await.unwrap();
                super::$name(db).await;
            }
            #[tokio::test]
            async fn postgres() {
                let pg = super::PgTemp::new().await;
                super::$name(pg.db.clone()).await;
                pg.drop_db().await;
            }
        }
    )*};
}

on_every_backend!(
    users_and_sessions,
    sites,
    visitors_and_messages,
    conversations,
    search,
    user_sites,
    visits,
    canned_replies,
    contact_and_widget,
    consent_and_audit,
    retention
);

const NOW: i64 = 1_800_000_000_000;

fn session<'a>(hash: &'a str, public: &'a str, user_id: i64, now: i64) -> NewSession<'a> {
    NewSession {
        token_hash: hash,
        public_id: public,
        user_id,
        now,
        expires_at: now + 3_600_000,
        client_ip: "10.0.0.1",
        user_agent: "UA",
    }
}

fn page(url: &str) -> PageInfo {
    PageInfo { url: url.into(), title: "Title".into() }
}

fn msg<'a>(visitor_id: &'a str, author: Author, client_id: Option<&'a str>, body: &'a str, at: i64) -> NewMessage<'a> {
    NewMessage {
        visitor_id,
        author,
        user_id: None,
        author_name: None,
        client_id,
        body,
        at,
        kind: None,
        attachment: None,
        receipt: None,
    }
}

async fn users_and_sessions(db: Db) {
    let alice = db.create_user("Alice@Example.com", "Alice", "hash-1", Role::Admin).await.unwrap();
    assert!(matches!(db.create_user("alice@example.COM", "A2", "h", Role::Consultant).await, Err(StorageError::Conflict(_))));
    let bob = db.create_user("bob@example.com", "Bob", "hash-b", Role::Consultant).await.unwrap();
    assert_eq!(db.user_by_email("ALICE@example.com").await.unwrap().unwrap().id, alice.id, "emails match whatever their case");
    assert_eq!(db.list_users().await.unwrap().iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["Alice", "Bob"]);
    db.set_user_name(bob.id, "Robert").await.unwrap();
    assert_eq!(db.user(bob.id).await.unwrap().unwrap().name, "Robert");

    // Sessions: made, found, listed, touched, checked in bulk.
    db.create_session(session("h-a1", "pa1", alice.id, NOW)).await.unwrap();
    db.create_session(session("h-b1", "pb1", bob.id, NOW)).await.unwrap();
    db.create_session(session("h-b2", "pb2", bob.id, NOW + 1)).await.unwrap();
    assert_eq!(db.session_user("h-a1", NOW).await.unwrap().unwrap().id, alice.id);
    assert!(db.session_user("h-a1", NOW + 3_600_000).await.unwrap().is_none(), "expired");
    db.touch_session("h-b1", NOW + 50).await.unwrap();
    let listed = db.user_sessions(bob.id, NOW).await.unwrap();
    assert_eq!(listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["pb1", "pb2"], "most recently used first");
    assert_eq!(
        (listed[0].client_ip.as_str(), listed[0].user_agent.as_str(), listed[0].last_seen_at),
        ("10.0.0.1", "UA", NOW + 50)
    );
    let mut live = db.live_sessions(&["h-a1".into(), "h-b1".into(), "nope".into()], NOW).await.unwrap();
    live.sort();
    assert_eq!(live, ["h-a1", "h-b1"]);

    // Every ending moves the epoch, whoever causes it.
    let e0 = db.auth_epoch().await.unwrap();
    assert!(db.delete_user_session(bob.id, "pb2").await.unwrap());
    assert!(!db.delete_user_session(alice.id, "pb1").await.unwrap(), "not another user's session");
    let e1 = db.auth_epoch().await.unwrap();
    assert!(e1 > e0);
    db.set_user_role(bob.id, Role::Admin).await.unwrap();
    assert!(db.session_user("h-b1", NOW).await.unwrap().is_none(), "a role change ends the sessions");
    let e2 = db.auth_epoch().await.unwrap();
    assert!(e2 > e1);
    db.set_user_name(bob.id, "Bob").await.unwrap();
    assert_eq!(db.auth_epoch().await.unwrap(), e2, "a new name ends nothing");

    // Known devices: until they expire, and forgotten with a new password.
    db.remember_device("dev-a", alice.id, NOW, NOW + 1000).await.unwrap();
    db.remember_device("dev-a", alice.id, NOW, NOW + 2000).await.unwrap();
    assert_eq!(db.device_user("dev-a", NOW + 1500).await.unwrap(), Some(alice.id));
    assert_eq!(db.device_user("dev-a", NOW + 2000).await.unwrap(), None);
    db.remember_device("dev-a", alice.id, NOW, NOW + 5000).await.unwrap();
    db.set_user_password(alice.id, "hash-2").await.unwrap();
    assert_eq!(db.device_user("dev-a", NOW).await.unwrap(), None);
    assert!(db.session_user("h-a1", NOW).await.unwrap().is_none(), "a new password ends the sessions");
    assert_eq!(db.user(alice.id).await.unwrap().unwrap().password_hash, "hash-2");

    // Disabled: no session works, and it comes back enabled.
    db.create_session(session("h-a2", "pa2", alice.id, NOW)).await.unwrap();
    db.set_user_disabled(alice.id, true, NOW).await.unwrap();
    assert!(db.user(alice.id).await.unwrap().unwrap().disabled);
    assert!(db.session_user("h-a2", NOW).await.unwrap().is_none());
    db.set_user_disabled(alice.id, false, NOW).await.unwrap();
    assert!(!db.user(alice.id).await.unwrap().unwrap().disabled);
    db.update_user(alice.id, "hash-3", Role::Consultant).await.unwrap();
    let a = db.user(alice.id).await.unwrap().unwrap();
    assert_eq!((a.password_hash.as_str(), a.role), ("hash-3", Role::Consultant));

    db.create_session(session("h-a3", "pa3", alice.id, NOW)).await.unwrap();
    db.delete_session("h-a3").await.unwrap();
    assert!(db.session_user("h-a3", NOW).await.unwrap().is_none());
    let e3 = db.auth_epoch().await.unwrap();
    assert!(db.delete_user(bob.id).await.unwrap());
    assert!(!db.delete_user(bob.id).await.unwrap());
    assert!(db.auth_epoch().await.unwrap() > e3);
    assert!(db.user(bob.id).await.unwrap().is_none());
}

async fn sites(db: Db) {
    let origins = vec!["https://a.example".to_owned(), "https://b.example".to_owned(), "https://a.example".to_owned()];
    let shop = db.create_site("Shop", "key-1", &origins, false).await.unwrap();
    assert_eq!(shop.origins, ["https://a.example", "https://b.example"], "duplicates once, sorted");
    assert!(!shop.is_demo);
    assert!(matches!(db.create_site("Other", "key-1", &[], false).await, Err(StorageError::Conflict(_))));
    assert!(db.demo_site().await.unwrap().is_none());
    let demo = db.create_site("Demo", "key-demo", &[], true).await.unwrap();
    assert_eq!(db.demo_site().await.unwrap().unwrap().id, demo.id);
    assert_eq!(db.site_by_key("key-1").await.unwrap().unwrap().id, shop.id);
    assert!(db.site_by_key("key-x").await.unwrap().is_none());
    assert_eq!(db.list_sites().await.unwrap().len(), 2);
    let privacy = PrivacySettings {
        mask_all_inputs: true,
        block_selectors: vec![".card".into(), "#secret".into()],
        mask_selectors: vec![".name".into()],
        keep_url_params: vec!["page".into(), "#".into()],
    };
    db.update_site_settings(shop.id, &privacy, 48).await.unwrap();
    let s = db.site(shop.id).await.unwrap().unwrap();
    assert_eq!(s.privacy, privacy);
    assert_eq!(s.consent_ttl_hours, 48);
    assert!(db.site(9999).await.unwrap().is_none());
}

async fn visitors_and_messages(db: Db) {
    let shop = db.create_site("Shop", "key-1", &[], false).await.unwrap();
    let other = db.create_site("Other", "key-2", &[], false).await.unwrap();
    let user = db.create_user("c@example.com", "Carol", "h", Role::Consultant).await.unwrap();
    db.create_visitor("v_1", shop.id, "th-1", &page("https://a.example/"), NOW).await.unwrap();
    db.create_visitor("v_2", shop.id, "th-2", &page("https://a.example/x"), NOW).await.unwrap();
    assert_eq!(db.visitor_by_token(shop.id, "th-1").await.unwrap().unwrap().id, "v_1");
    assert!(db.visitor_by_token(other.id, "th-1").await.unwrap().is_none(), "a token belongs to its site");
    db.touch_visitor("v_1", &page("https://a.example/cart"), NOW + 10).await.unwrap();
    let (v, site_name) = db.visitor("v_1").await.unwrap().unwrap();
    assert_eq!((v.page.url.as_str(), v.last_seen, site_name.as_str()), ("https://a.example/cart", NOW + 10, "Shop"));
    assert_eq!(db.site_of_visitor("v_1").await.unwrap().unwrap().id, shop.id);

    let (first, new) = db.insert_message(msg("v_1", Author::Visitor, Some("c1"), "hello", NOW)).await.unwrap();
    assert!(new);
    let (again, new) = db.insert_message(msg("v_1", Author::Visitor, Some("c1"), "hello", NOW + 5)).await.unwrap();
    assert!(!new, "a resent message is stored once");
    assert_eq!(again.id, first.id);
    let reply = NewMessage {
        user_id: Some(user.id),
        author_name: Some("Carol"),
        ..msg("v_1", Author::Consultant, Some("c1"), "hi", NOW + 1)
    };
    assert!(db.insert_message(reply).await.unwrap().1, "the same client id from another author is another message");
    let receipt = NewMessage { kind: Some(MessageKind::Receipt), ..msg("v_1", Author::System, None, "receipt", NOW + 2) };
    db.insert_message(receipt).await.unwrap();
    db.insert_message(msg("v_1", Author::Visitor, Some("c2"), "more", NOW + 3)).await.unwrap();
    let all = db.messages("v_1", 100).await.unwrap();
    assert_eq!(all.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["hello", "hi", "receipt", "more"]);
    assert_eq!(all[1].author_name.as_deref(), Some("Carol"));
    assert_eq!(all[2].kind, Some(MessageKind::Receipt));
    assert_eq!(
        db.messages("v_1", 2).await.unwrap().iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["receipt", "more"],
        "the latest, oldest first"
    );

    db.insert_message(msg("v_2", Author::Visitor, Some("z"), "other dialog", NOW + 4)).await.unwrap();
    let dialogs = db.recent_dialogs(false, 10).await.unwrap();
    assert_eq!(dialogs.iter().map(|d| d.visitor.id.as_str()).collect::<Vec<_>>(), ["v_2", "v_1"], "latest message first");
    assert_eq!(dialogs[1].last_message.body, "more");
    assert_eq!(dialogs[1].site_name, "Shop");

    let mut unread = db.unread_counts(user.id).await.unwrap();
    unread.sort_by(|a, b| a.visitor_id.cmp(&b.visitor_id));
    assert_eq!(unread.iter().map(|u| (u.visitor_id.as_str(), u.count)).collect::<Vec<_>>(), [("v_1", 2), ("v_2", 1)]);
    db.mark_read(user.id, "v_1").await.unwrap();
    db.mark_read(user.id, "v_1").await.unwrap();
    let unread = db.unread_counts(user.id).await.unwrap();
    assert_eq!(unread.iter().map(|u| u.visitor_id.as_str()).collect::<Vec<_>>(), ["v_2"]);

    // "Seen": only a message of the visitor's own dialog moves the mark, and only forward.
    let ids: Vec<i64> = all.iter().map(|m| m.id.parse().unwrap()).collect();
    let v2_msg: i64 = db.messages("v_2", 1).await.unwrap()[0].id.parse().unwrap();
    assert_eq!(db.seen_message("v_1").await.unwrap(), None);
    assert!(!db.mark_seen("v_1", v2_msg).await.unwrap(), "another dialog's message moves nothing");
    assert!(!db.mark_seen("v_1", i64::MAX).await.unwrap(), "nor an id that does not exist");
    assert_eq!(db.seen_message("v_1").await.unwrap(), None);
    assert!(db.mark_seen("v_1", ids[1]).await.unwrap(), "its own reply does");
    assert!(!db.mark_seen("v_1", ids[0]).await.unwrap(), "never backwards");
    assert!(!db.mark_seen("v_1", ids[1]).await.unwrap(), "nor again");
    assert_eq!(db.seen_message("v_1").await.unwrap(), Some(ids[1]));
    assert_eq!(db.seen_message("v_2").await.unwrap(), None);

    // A site renamed keeps its visitors; removed, it takes them and their transcripts along.
    assert!(db.rename_site(shop.id, "Shop 2").await.unwrap());
    assert_eq!(db.visitor("v_1").await.unwrap().unwrap().1, "Shop 2");
    assert!(!db.rename_site(9999, "X").await.unwrap());
    let epoch = db.auth_epoch().await.unwrap();
    assert!(db.delete_site(shop.id).await.unwrap());
    assert!(db.auth_epoch().await.unwrap() > epoch, "servers notice and close its tabs");
    assert!(db.visitor("v_1").await.unwrap().is_none());
    assert!(db.messages("v_1", 10).await.unwrap().is_empty());
    assert!(db.site(other.id).await.unwrap().is_some(), "only that site");
    assert!(!db.delete_site(shop.id).await.unwrap());
}

async fn conversations(db: Db) {
    let shop = db.create_site("Shop", "key-1", &[], false).await.unwrap();
    let anna = db.create_user("anna@example.com", "Anna", "h", Role::Consultant).await.unwrap();
    let boris = db.create_user("boris@example.com", "Boris", "h", Role::Consultant).await.unwrap();
    for v in ["v_1", "v_2"] {
        db.create_visitor(v, shop.id, &format!("th-{v}"), &page("https://a.example/"), NOW).await.unwrap();
        db.insert_message(msg(v, Author::Visitor, Some("c1"), "hello", NOW)).await.unwrap();
    }
    let ids = ["v_1".to_owned(), "v_2".to_owned(), "v_unknown".to_owned()];
    assert!(db.conversations(&ids).await.unwrap().is_empty(), "open and unassigned is not listed");
    let state = |c: Option<chatcast_protocol::Conversation>| {
        let c = c.expect("changed");
        (c.state, c.assignee_name, c.updated_at)
    };

    // Answering takes a conversation nobody has; it stays with its assignee after that.
    assert_eq!(
        state(db.change_conversation("v_1", Change::Answered(anna.id), NOW + 1).await.unwrap()),
        (ConversationState::Assigned, Some("Anna".into()), NOW + 1)
    );
    assert!(db.change_conversation("v_1", Change::Answered(boris.id), NOW + 2).await.unwrap().is_none());
    assert!(db.change_conversation("v_1", Change::Assign(anna.id), NOW + 2).await.unwrap().is_none(), "no change");
    let handed = db.change_conversation("v_1", Change::Assign(boris.id), NOW + 3).await.unwrap().unwrap();
    assert_eq!(handed.assignee_id, Some(boris.id.to_string()));

    // Closed, it keeps its assignee; reopening gives it back to them.
    assert_eq!(state(db.change_conversation("v_1", Change::Close, NOW + 4).await.unwrap()).0, ConversationState::Closed);
    assert!(db.change_conversation("v_1", Change::Close, NOW + 5).await.unwrap().is_none());
    let listed = db.conversations(&ids).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].state, listed[0].assignee_name.as_deref()), (ConversationState::Closed, Some("Boris")));
    let closed: Vec<String> = db.recent_dialogs(true, 10).await.unwrap().into_iter().map(|d| d.visitor.id).collect();
    let open: Vec<String> = db.recent_dialogs(false, 10).await.unwrap().into_iter().map(|d| d.visitor.id).collect();
    assert_eq!((closed, open), (vec!["v_1".to_owned()], vec!["v_2".to_owned()]));
    assert_eq!(
        state(db.change_conversation("v_1", Change::Reopen, NOW + 6).await.unwrap()),
        (ConversationState::Assigned, Some("Boris".into()), NOW + 6)
    );
    assert!(db.change_conversation("v_1", Change::Reopen, NOW + 7).await.unwrap().is_none());

    // Unassigned while closed, it stays closed; assigning reopens it.
    db.change_conversation("v_2", Change::Close, NOW + 8).await.unwrap().unwrap();
    assert!(db.change_conversation("v_2", Change::Unassign, NOW + 9).await.unwrap().is_none(), "nobody had it");
    let c = db.change_conversation("v_2", Change::Assign(anna.id), NOW + 10).await.unwrap().unwrap();
    assert_eq!(c.state, ConversationState::Assigned);
    let c = db.change_conversation("v_2", Change::Unassign, NOW + 11).await.unwrap().unwrap();
    assert_eq!((c.state, c.assignee_id), (ConversationState::Open, None));
    assert!(db.change_conversation("v_unknown", Change::Close, NOW).await.unwrap().is_none());

    // A removed account leaves its conversations unassigned.
    assert!(db.delete_user(boris.id).await.unwrap());
    let c = db.conversations(&["v_1".to_owned()]).await.unwrap().pop().unwrap();
    assert_eq!((c.state, c.assignee_id), (ConversationState::Open, None));
}

async fn search(db: Db) {
    let shop = db.create_site("Shop", "key-1", &[], false).await.unwrap();
    db.create_visitor("v_1", shop.id, "th-1", &page("https://a.example/"), NOW).await.unwrap();
    db.create_visitor("v_2", shop.id, "th-2", &page("https://a.example/"), NOW).await.unwrap();
    let lines = [
        ("v_1", Author::Visitor, "Do you have winter boots in size 44?"),
        ("v_1", Author::Consultant, "Yes, the Nordic boots come in 44."),
        ("v_2", Author::Visitor, "Где мой заказ 1234?"),
        ("v_2", Author::Visitor, "Crème brûlée recipe, please"),
    ];
    for (i, (v, author, body)) in lines.iter().enumerate() {
        let id = format!("c{i}");
        db.insert_message(msg(v, *author, Some(&id), body, NOW + i as i64)).await.unwrap();
    }
    let system = NewMessage { kind: Some(MessageKind::Allowed), ..msg("v_1", Author::System, None, "boots allowed", NOW + 9) };
    db.insert_message(system).await.unwrap();
    let find = |q: &str| {
        let db = db.clone();
        let words = storage::search_words(q);
        async move { db.search_messages(&words, None, 10).await.unwrap().into_iter().map(|h| h.message.body).collect::<Vec<_>>() }
    };
    assert_eq!(
        find("boot").await,
        ["Yes, the Nordic boots come in 44.", "Do you have winter boots in size 44?"],
        "prefix, newest first, no system line"
    );
    assert_eq!(find("BOOTS winter").await, ["Do you have winter boots in size 44?"], "every word must match");
    assert_eq!(find("заказ").await, ["Где мой заказ 1234?"], "any script");
    assert_eq!(find("1234").await, ["Где мой заказ 1234?"]);
    assert!(find("boots tractor").await.is_empty());
    // Query syntax in the input is only words: quotes, operators and columns match nothing special.
    assert_eq!(find("\"boots\" OR -NEAR(* body:").await.len(), 0, "OR, NEAR, body are words that are not there");
    assert_eq!(find("boots\" *").await.len(), 2, "a stray quote or star is not syntax");
    let hits = db.search_messages(&storage::search_words("nordic"), None, 10).await.unwrap();
    assert_eq!((hits[0].message.visitor_id.as_str(), hits[0].site_name.as_str()), ("v_1", "Shop"));
    // A consultant of other sites finds nothing of this one.
    let words = storage::search_words("boots");
    assert_eq!(db.search_messages(&words, Some(&[shop.id]), 10).await.unwrap().len(), 2);
    assert!(db.search_messages(&words, Some(&[shop.id + 1]), 10).await.unwrap().is_empty());
    assert!(db.search_messages(&words, Some(&[]), 10).await.unwrap().is_empty(), "no site: nothing");
    // Removed dialogs are gone from the index too.
    db.delete_visitors(&["v_1".to_owned()]).await.unwrap();
    assert!(find("boots").await.is_empty());
}

async fn user_sites(db: Db) {
    let a = db.create_site("A", "key-a", &[], false).await.unwrap();
    let b = db.create_site("B", "key-b", &[], false).await.unwrap();
    let u = db.create_user("c@example.com", "Carol", "h", Role::Consultant).await.unwrap();
    assert_eq!(db.user_sites(u.id).await.unwrap(), None, "every site until told otherwise");
    let epoch = db.auth_epoch().await.unwrap();
    db.set_user_sites(u.id, Some(&[b.id, a.id])).await.unwrap();
    assert!(db.auth_epoch().await.unwrap() > epoch, "servers re-check open consoles");
    let mut both = vec![a.id, b.id];
    both.sort();
    assert_eq!(db.user_sites(u.id).await.unwrap(), Some(both));
    // A removed site leaves the other; the last one removed leaves none, never every site.
    db.delete_site(b.id).await.unwrap();
    assert_eq!(db.user_sites(u.id).await.unwrap(), Some(vec![a.id]));
    db.delete_site(a.id).await.unwrap();
    assert_eq!(db.user_sites(u.id).await.unwrap(), Some(vec![]));
    db.set_user_sites(u.id, None).await.unwrap();
    assert_eq!(db.user_sites(u.id).await.unwrap(), None);
}

async fn visits(db: Db) {
    use storage::VisitClient;
    let shop = db.create_site("Shop", "key-1", &[], false).await.unwrap();
    db.create_visitor("v_1", shop.id, "th-1", &page("https://a.example/"), NOW).await.unwrap();
    let client =
        VisitClient { user_agent: "UA/1", language: "de-DE", timezone: "Europe/Berlin", referrer: "https://search.example/" };
    db.record_visit("v_1", &client, true, true).await.unwrap();
    for (i, url) in ["https://a.example/", "https://a.example/", "https://a.example/cart"].iter().enumerate() {
        db.add_visit_page("v_1", &page(url), NOW + i as i64).await.unwrap();
    }
    db.insert_message(msg("v_1", Author::Visitor, Some("c1"), "hello", NOW + 5)).await.unwrap();
    let r = db.visitor_record("v_1").await.unwrap().unwrap();
    assert_eq!(
        (r.visits, r.language.as_str(), r.referrer.as_str(), r.site_name.as_str()),
        (1, "de-DE", "https://search.example/", "Shop")
    );
    assert_eq!(
        r.pages.iter().map(|p| p.url.as_str()).collect::<Vec<_>>(),
        ["https://a.example/", "https://a.example/cart"],
        "not twice in a row"
    );
    assert_eq!((r.messages, r.conversation_since, r.first_seen), (1, Some(NOW + 5), NOW));

    // Back another day: counted, with its own referrer and pages; the same visit changes neither.
    let again = VisitClient { referrer: "", ..client.clone() };
    db.record_visit("v_1", &again, true, false).await.unwrap();
    db.add_visit_page("v_1", &page("https://a.example/help"), NOW + 10).await.unwrap();
    db.record_visit("v_1", &VisitClient { referrer: "https://elsewhere.example/", ..client.clone() }, false, false)
        .await
        .unwrap();
    let r = db.visitor_record("v_1").await.unwrap().unwrap();
    assert_eq!((r.visits, r.referrer.as_str(), r.pages.len()), (2, "", 1));
    for i in 0..30 {
        db.add_visit_page("v_1", &page(&format!("https://a.example/p{i}")), NOW + 20 + i).await.unwrap();
    }
    let r = db.visitor_record("v_1").await.unwrap().unwrap();
    assert_eq!((r.pages.len(), r.pages[19].url.as_str()), (storage::VISIT_PAGES, "https://a.example/p29"), "the latest 20");
    assert!(db.visitor_record("v_nobody").await.unwrap().is_none());
}

async fn contact_and_widget(db: Db) {
    use chatcast_protocol::{Contact, WidgetLanguage, WidgetPosition, WidgetSettings};
    let shop = db.create_site("Shop", "key-1", &[], false).await.unwrap();
    assert_eq!(shop.widget, WidgetSettings::default(), "a new site has every default");
    let w = WidgetSettings {
        greeting: "Привет".into(),
        color: "#0a7d4f".into(),
        position: WidgetPosition::Left,
        language: WidgetLanguage::Ru,
        prechat: true,
        ..Default::default()
    };
    db.set_widget_settings(shop.id, &w).await.unwrap();
    assert_eq!(db.site_by_key("key-1").await.unwrap().unwrap().widget, w);

    db.create_visitor("v_1", shop.id, "th-1", &page("https://a.example/"), NOW).await.unwrap();
    assert_eq!(db.contact("v_1").await.unwrap(), Some((Contact::default(), 0)));
    assert_eq!(db.contact("v_nobody").await.unwrap(), None);
    db.set_contact("v_1", Some("Jane"), "jane@a.example").await.unwrap();
    db.set_contact("v_1", None, "jane.roe@a.example").await.unwrap();
    let jane = Contact { name: Some("Jane".into()), email: Some("jane.roe@a.example".into()) };
    assert_eq!(db.contact("v_1").await.unwrap(), Some((jane.clone(), 0)), "a name not given keeps the stored one");
    assert_eq!(db.visitor_record("v_1").await.unwrap().unwrap().contact, jane);
    // The emailed mark only moves forward.
    assert!(db.mark_emailed("v_1", 7).await.unwrap());
    assert!(!db.mark_emailed("v_1", 7).await.unwrap());
    assert!(!db.mark_emailed("v_1", 3).await.unwrap());
    assert_eq!(db.contact("v_1").await.unwrap().unwrap().1, 7);

    // Files: taken by one message of their uploader; never-sent ones swept, sent ones kept.
    use storage::NewAttachment;
    let file = |id: &'static str, at: i64| NewAttachment {
        id,
        visitor_id: "v_1",
        uploaded_by: "visitor",
        name: "a.png",
        content_type: "image/png",
        data: b"\x89PNG",
        at,
    };
    db.add_attachment(&file("f1", NOW)).await.unwrap();
    db.add_attachment(&file("f2", NOW)).await.unwrap();
    db.add_attachment(&file("f3", NOW + 100)).await.unwrap();
    assert!(db.attachment("f1").await.unwrap().is_none(), "not sent yet");
    assert!(db.claim_attachment("f1", "v_1", "user:1", "c1").await.unwrap().is_none(), "not the uploader");
    let a = db.claim_attachment("f1", "v_1", "visitor", "c1").await.unwrap().expect("taken");
    assert_eq!((a.name.as_str(), a.size), ("a.png", 4));
    assert!(db.claim_attachment("f1", "v_1", "visitor", "c1").await.unwrap().is_some(), "the same message again");
    assert!(db.claim_attachment("f1", "v_1", "visitor", "c2").await.unwrap().is_none(), "not a second message");
    assert_eq!(db.attachment("f1").await.unwrap().unwrap().1, b"\x89PNG");
    assert_eq!(db.uploads_since("v_1", "visitor", NOW).await.unwrap(), 3);
    assert_eq!(db.delete_unsent_attachments(NOW + 50).await.unwrap(), 1, "f2 only");
    db.claim_attachment("f3", "v_1", "visitor", "c3").await.unwrap().unwrap();
    assert!(db.attachment("f3").await.unwrap().is_some());
}

async fn canned_replies(db: Db) {
    let hi = db.save_canned_reply(None, "hello", "Hi! How can I help?", NOW).await.unwrap().unwrap();
    let bye = db.save_canned_reply(None, "bye", "Have a nice day.", NOW).await.unwrap().unwrap();
    assert!(matches!(db.save_canned_reply(None, "hello", "again", NOW).await, Err(StorageError::Conflict(_))), "unique shortcut");
    let list = db.canned_replies().await.unwrap();
    assert_eq!(list.iter().map(|c| c.shortcut.as_str()).collect::<Vec<_>>(), ["bye", "hello"], "by shortcut");
    let id: i64 = hi.id.parse().unwrap();
    let changed = db.save_canned_reply(Some(id), "hi", "Hello there!", NOW + 1).await.unwrap().unwrap();
    assert_eq!((changed.id, changed.shortcut.as_str(), changed.updated_at), (hi.id.clone(), "hi", NOW + 1));
    let taken = db.save_canned_reply(Some(id), "bye", "x", NOW + 2).await;
    assert!(matches!(taken, Err(StorageError::Conflict(_))), "renaming onto another's shortcut");
    assert!(db.save_canned_reply(Some(9999), "new", "x", NOW).await.unwrap().is_none());
    assert!(db.delete_canned_reply(bye.id.parse().unwrap()).await.unwrap());
    assert!(!db.delete_canned_reply(bye.id.parse().unwrap()).await.unwrap());
    assert_eq!(db.canned_replies().await.unwrap().len(), 1);
}

async fn consent_and_audit(db: Db) {
    let shop = db.create_site("Shop", "key-1", &[], false).await.unwrap();
    let user = db.create_user("c@example.com", "Carol", "h", Role::Consultant).await.unwrap();
    db.create_visitor("v_1", shop.id, "th-1", &page("https://a.example/"), NOW).await.unwrap();
    db.create_visitor("v_2", shop.id, "th-2", &page("https://a.example/"), NOW).await.unwrap();
    db.remember_consent("v_1", "tab-a", NOW, NOW + 1000).await.unwrap();
    assert!(db.has_consent("v_1", "tab-a", NOW + 999).await.unwrap());
    assert!(!db.has_consent("v_1", "tab-a", NOW + 1000).await.unwrap(), "expired");
    assert!(!db.has_consent("v_1", "tab-b", NOW).await.unwrap(), "consent belongs to its tab");
    db.revoke_consent("v_1", NOW + 1).await.unwrap();
    assert!(!db.has_consent("v_1", "tab-a", NOW + 2).await.unwrap());
    db.remember_consent("v_1", "tab-a", NOW + 3, NOW + 1000).await.unwrap();
    assert!(db.has_consent("v_1", "tab-a", NOW + 4).await.unwrap(), "asked again and granted");

    db.audit("v_1", Some(user.id), Some("Carol"), "requested", "", NOW).await.unwrap();
    db.audit("v_1", None, None, "denied", "the visitor said no", NOW + 1).await.unwrap();
    db.audit("v_2", Some(user.id), Some("Carol"), "requested", "", NOW + 2).await.unwrap();
    let all = db.audit_log(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|a| (a.visitor_id.as_str(), a.event.as_str())).collect::<Vec<_>>(),
        [("v_2", "requested"), ("v_1", "denied"), ("v_1", "requested")]
    );
    assert_eq!(all[0].site_name, "Shop");
    let one = db.audit_log(Some("v_1"), 1).await.unwrap();
    assert_eq!((one.len(), one[0].detail.as_str(), one[0].user_id), (1, "the visitor said no", None));
}

async fn retention(db: Db) {
    let shop = db.create_site("Shop", "key-1", &[], false).await.unwrap();
    let day = 86_400_000;
    db.create_visitor("v_idle_old", shop.id, "t1", &page("u"), NOW - 40 * day).await.unwrap();
    db.create_visitor("v_idle_new", shop.id, "t2", &page("u"), NOW - day).await.unwrap();
    db.create_visitor("v_talk_old", shop.id, "t3", &page("u"), NOW - 400 * day).await.unwrap();
    db.insert_message(msg("v_talk_old", Author::Visitor, Some("c"), "old", NOW - 400 * day)).await.unwrap();
    db.remember_consent("v_talk_old", "tab", NOW - 400 * day, NOW).await.unwrap();
    db.audit("v_talk_old", None, None, "requested", "", NOW - 400 * day).await.unwrap();
    db.create_visitor("v_talk_new", shop.id, "t4", &page("u"), NOW - 400 * day).await.unwrap();
    db.insert_message(msg("v_talk_new", Author::Visitor, Some("c"), "new", NOW - day)).await.unwrap();

    let mut idle = db.expired_visitors(Some(NOW - 30 * day), None, 100).await.unwrap();
    idle.sort();
    assert_eq!(idle, ["v_idle_old"], "only the idle ones, when transcripts are kept");
    let mut due = db.expired_visitors(Some(NOW - 30 * day), Some(NOW - 365 * day), 100).await.unwrap();
    due.sort();
    assert_eq!(due, ["v_idle_old", "v_talk_old"]);
    assert_eq!(db.expired_visitors(Some(NOW - 30 * day), Some(NOW - 365 * day), 1).await.unwrap().len(), 1, "bounded");
    assert!(db.expired_visitors(None, None, 100).await.unwrap().is_empty(), "nothing when both are kept");
    assert_eq!(db.delete_visitors(&due).await.unwrap(), 2);
    assert!(db.visitor("v_talk_old").await.unwrap().is_none());
    assert!(db.messages("v_talk_old", 10).await.unwrap().is_empty());
    assert!(!db.has_consent("v_talk_old", "tab", NOW - 1).await.unwrap());
    assert!(db.audit_log(Some("v_talk_old"), 10).await.unwrap().is_empty());
    assert!(db.visitor("v_talk_new").await.unwrap().is_some());
    assert!(db.visitor("v_idle_new").await.unwrap().is_some());
}
