//! The target table: every module the binary can run, the targets it calls and what it needs.
//!
//! A row is all the runner knows about a target: it starts the selected ones in an order where
//! every target comes after the targets it calls (a cycle is an error), opens and migrates the
//! database, connects the bus, binds the listeners and resolves each called target to an
//! in-process or a network transport, all from these rows. `--list-targets` prints the same
//! rows. Adding a service is one row here and one module beside this file with
//! `pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started>`.

use std::{fmt, str::FromStr};

use ohjaus_platform::{db::Migrations, keyring::LegacyKeys};

use crate::runner::{StartContext, Started};

/// Something a target needs from its process or its configuration.
#[derive(Clone, Copy)]
pub enum Need {
    /// Its own database (a schema of `database.url`, or `<name>.db` under `data_dir`), with its
    /// migrations: applied by `ohjaus migrate`, or at start in the embedded mode.
    Database(fn() -> Migrations),
    /// The event bus: the outbox relay, event consumers, live streams.
    Bus,
    /// The key that hashes personal identity codes.
    IdentityCodeKey,
    /// A key store of its own for its data keys (schema `<name>_keyring` of `keyring.url`, or
    /// `keyring/<name>.db`), wrapped by the key-encryption key; migrated with its database,
    /// moving the keys once kept in these content columns into it.
    Keyring(&'static [LegacyKeys]),
    /// The key that chains the consent ledger.
    ConsentLedgerKey,
    /// Login connectors (and the development provider in the embedded mode).
    IdentityProviders,
    /// Outgoing mail.
    Mail,
    /// Attachment storage.
    Files,
    /// The process's gRPC listener, shared by every service it runs.
    GrpcListener,
    /// The public HTTP listener.
    HttpListener,
}

impl Need {
    /// What `--list-targets` says of this need of `target`.
    pub fn describe(self, target: Target) -> String {
        match self {
            Need::Database(_) => format!("database (schema `{target}` / {target}.db)"),
            Need::Bus => "event bus (bus.kind)".into(),
            Need::IdentityCodeKey => "security.identity_code_key".into(),
            Need::Keyring(_) => format!(
                "key store (schema `{target}_keyring` of keyring.url / keyring/{target}.db), security.key_encryption_key"
            ),
            Need::ConsentLedgerKey => "security.consent_ledger_key".into(),
            Need::IdentityProviders => {
                "identity providers (identity.providers, identity.saml_providers with the `saml` feature)".into()
            }
            Need::Mail => "mail (mail.*)".into(),
            Need::Files => "file storage (files.*)".into(),
            Need::GrpcListener => "gRPC listener (grpc.listen)".into(),
            Need::HttpListener => "HTTP listener (gateway.listen)".into(),
        }
    }
}

/// One row of the table.
pub struct Spec {
    pub target: Target,
    /// The targets it calls: here, or at `services.<name>.address`.
    pub depends_on: &'static [Target],
    pub needs: &'static [Need],
}

impl Spec {
    pub fn needs(&self, wanted: fn(&Need) -> bool) -> bool {
        self.needs.iter().any(wanted)
    }

    /// Where its data keys were kept before its key store, if it has a key store.
    pub fn keyring(&self) -> Option<&'static [LegacyKeys]> {
        self.needs.iter().find_map(|need| match need {
            Need::Keyring(legacy) => Some(*legacy),
            _ => None,
        })
    }

    /// The migrations of its database, if it has one.
    pub fn migrations(&self) -> Option<Migrations> {
        self.needs.iter().find_map(|need| match need {
            Need::Database(migrations) => Some(migrations()),
            _ => None,
        })
    }
}

/// Declares the `Target` enum, one module per target, the table and the dispatch to each
/// module's `start` from one list of rows, so they cannot disagree.
macro_rules! targets {
    ($($variant:ident => $module:ident, depends on [$($peer:ident),*], needs [$($need:expr),*];)+) => {
        $(pub mod $module;)+

        /// A module the binary can run.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Target {
            $($variant),+
        }

        impl Target {
            /// Every target, in table order.
            pub const ALL: [Target; [$(Target::$variant),+].len()] = [$(Target::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Target::$variant => stringify!($module)),+
                }
            }
        }

        /// Every target's row, in table order (which breaks ties in the start order).
        pub static TABLE: &[Spec] = &[$(Spec {
            target: Target::$variant,
            depends_on: &[$(Target::$peer),*],
            needs: &[$($need),*],
        }),+];

        /// Runs `target`'s start function.
        pub(crate) async fn start(target: Target, ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
            match target {
                $(Target::$variant => $module::start(ctx).await),+
            }
        }
    };
}

use Need::*;

targets! {
    Tenants => tenants, depends on [],
        needs [Database(ohjaus_tenants::migrations), Bus, IdentityCodeKey, GrpcListener];
    Identity => identity, depends on [Tenants],
        needs [Database(ohjaus_identity::migrations), IdentityCodeKey, IdentityProviders, GrpcListener];
    Workspaces => workspaces, depends on [Tenants, Identity],
        needs [Database(ohjaus_workspaces::migrations), Keyring(ohjaus_workspaces::LEGACY_KEYS), Bus, Mail, Files, GrpcListener];
    Consent => consent, depends on [Tenants, Workspaces],
        needs [Database(ohjaus_consent::migrations), Keyring(ohjaus_consent::LEGACY_KEYS), Bus, ConsentLedgerKey, GrpcListener];
    Forms => forms, depends on [Tenants, Workspaces],
        needs [Database(ohjaus_forms::migrations), Keyring(&[]), Bus, Mail, GrpcListener];
    Surveys => surveys, depends on [Workspaces],
        needs [Database(ohjaus_surveys::migrations), Keyring(&[]), Bus, GrpcListener];
    Retention => retention, depends on [Identity, Workspaces, Consent, Forms, Surveys],
        needs [Database(ohjaus_retention::migrations), Bus, GrpcListener];
    Gateway => gateway, depends on [Tenants, Identity, Workspaces, Consent, Forms, Surveys, Retention],
        needs [HttpListener, Bus];
}

impl Target {
    pub fn spec(self) -> &'static Spec {
        // The macro writes the rows in the enum's order.
        &TABLE[self as usize]
    }

    /// Whether it serves gRPC, so that other targets can call it (every target but the gateway).
    pub fn serves_grpc(self) -> bool {
        self.spec().needs(|need| matches!(need, GrpcListener))
    }

    /// The setting, as an environment variable, of where it runs when not in this process.
    pub fn address_variable(self) -> String {
        format!("OHJAUS__SERVICES__{}__ADDRESS", self.name().to_uppercase())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
            format!("unknown target `{s}`; known: all, {}", names.join(", "))
        })
    }
}

/// Parses `all` or a comma-separated list of targets.
pub fn parse_targets(value: &str) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "all" {
            targets.extend(Target::ALL);
        } else {
            targets.push(part.parse()?);
        }
    }
    targets.sort_by_key(|t| t.name());
    targets.dedup();
    if targets.is_empty() {
        return Err("no target given".into());
    }
    Ok(targets)
}

/// `selected` in an order where each target comes after every target it depends on, the
/// table's order breaking ties. The whole table is ordered, so a cycle is found whichever
/// targets run here.
pub fn start_order(table: &[Spec], selected: &[Target]) -> anyhow::Result<Vec<Target>> {
    let mut placed: Vec<Target> = Vec::with_capacity(table.len());
    while placed.len() < table.len() {
        let next =
            table.iter().find(|row| !placed.contains(&row.target) && row.depends_on.iter().all(|d| placed.contains(d)));
        let Some(row) = next else {
            let waiting: Vec<&str> =
                table.iter().filter(|row| !placed.contains(&row.target)).map(|row| row.target.name()).collect();
            anyhow::bail!("the targets {} depend on each other in a cycle", waiting.join(", "));
        };
        placed.push(row.target);
    }
    placed.retain(|t| selected.contains(t));
    Ok(placed)
}

/// The table as `--list-targets` prints it.
pub fn listing() -> String {
    let depends_on = |spec: &Spec| {
        let names: Vec<&str> = spec.depends_on.iter().map(|t| t.name()).collect();
        if names.is_empty() { "-".to_owned() } else { names.join(", ") }
    };
    let name_width = Target::ALL.iter().map(|t| t.name().len()).max().unwrap_or(0).max("target".len());
    let depends_width = TABLE.iter().map(|s| depends_on(s).len()).max().unwrap_or(0).max("depends on".len());
    let mut text = format!("{:<name_width$}  {:<depends_width$}  needs\n", "target", "depends on");
    for spec in TABLE {
        let needs: Vec<String> = spec.needs.iter().map(|n| n.describe(spec.target)).collect();
        text.push_str(&format!(
            "{:<name_width$}  {:<depends_width$}  {}\n",
            spec.target.name(),
            depends_on(spec),
            needs.join("; ")
        ));
    }
    text.push_str(&format!(
        "{:<name_width$}  every target above in one process (embedded mode by default); a target depended on \
         but not run here is called at services.<name>.address\n",
        "all"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_are_in_the_enums_order() {
        for (index, spec) in TABLE.iter().enumerate() {
            assert_eq!(spec.target as usize, index);
            assert_eq!(spec.target.spec().target, spec.target);
        }
    }

    #[test]
    fn every_target_starts_after_the_targets_it_calls() {
        let order = start_order(TABLE, &Target::ALL).unwrap();
        assert_eq!(order.len(), TABLE.len());
        for spec in TABLE {
            let at = |t: Target| order.iter().position(|o| *o == t).unwrap();
            for peer in spec.depends_on {
                assert!(at(*peer) < at(spec.target), "{} before {}", peer, spec.target);
            }
        }
        assert_eq!(
            start_order(TABLE, &[Target::Gateway, Target::Consent, Target::Tenants]).unwrap(),
            vec![Target::Tenants, Target::Consent, Target::Gateway]
        );
    }

    #[test]
    fn a_cycle_is_an_error_naming_its_targets() {
        let cyclic = [
            Spec { target: Target::Tenants, depends_on: &[], needs: &[] },
            Spec { target: Target::Workspaces, depends_on: &[Target::Consent], needs: &[] },
            Spec { target: Target::Consent, depends_on: &[Target::Workspaces], needs: &[] },
        ];
        let error = start_order(&cyclic, &[Target::Tenants]).unwrap_err().to_string();
        assert!(error.contains("workspaces, consent") && error.contains("cycle"), "{error}");
    }

    #[test]
    fn targets_parse_by_name_and_all() {
        assert_eq!(parse_targets("all").unwrap().len(), TABLE.len());
        assert_eq!(parse_targets("tenants, gateway,tenants").unwrap(), vec![Target::Gateway, Target::Tenants]);
        assert!(parse_targets("nope").unwrap_err().contains("known: all, tenants"));
        assert!(parse_targets(" , ").is_err());
    }

    #[test]
    fn the_listing_has_a_line_per_target() {
        let text = listing();
        for target in Target::ALL {
            let line = text.lines().find(|l| l.starts_with(&format!("{target} "))).unwrap();
            for peer in target.spec().depends_on {
                assert!(line.contains(peer.name()), "{line}");
            }
        }
        assert!(text.lines().any(|l| l.starts_with("all ")));
    }
}
