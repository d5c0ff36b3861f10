//! Schema migrations, applied by every function at cold start.
//!
//! The SQL lives in `migrations/NNNN_name.sql` and is compiled into the binary, so a
//! deployed function carries exactly the schema it was built against. All pending
//! migrations run in one transaction that first takes a transaction-scoped advisory
//! lock: when several functions cold-start at once, one applies the migrations and the
//! others wait, then find nothing left to do. A failed migration rolls back entirely.

use tokio_postgres::Client;

use crate::DbError;

/// One embedded migration.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// One [`Migration`] from `migrations/<file>_<name>.sql`.
macro_rules! migration {
    ($version:literal, $file:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $file, "_", $name, ".sql")),
        }
    };
}

/// Every migration, in the order it is applied. Append only: an applied migration is
/// never edited, a change is a new file.
const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001", "training_runs"),
    migration!(2, "0002", "card_history"),
    migration!(3, "0003", "scored_transactions"),
    migration!(4, "0004", "training_runs_report_uri"),
    migration!(5, "0005", "scored_transactions_decisions"),
    migration!(6, "0006", "labels"),
    migration!(7, "0007", "model_monitor"),
];

/// Key of the advisory lock that serialises migrations ("fraud-db" in ASCII). Advisory
/// locks are per database, so unrelated databases on one server do not wait for
/// each other.
const MIGRATION_LOCK_KEY: i64 = 0x6672_6175_642d_6462;

/// Brings the schema up to date and returns how many migrations were applied (0 when
/// it already was). Safe to call concurrently from many processes and on every start.
pub async fn migrate(client: &mut Client) -> Result<usize, DbError> {
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("begin migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(DbError::query("lock migrations"))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(DbError::query("create schema_migrations"))?;
    let applied: Vec<i32> = tx
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(DbError::query("read schema_migrations"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if let Some(&newest) = applied.last() {
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if newest > known {
            // A newer build migrated first (rolling deploy); its changes are additive.
            tracing::warn!(
                database_version = newest,
                build_version = known,
                "database schema is newer than this build"
            );
        }
    }
    let mut count = 0;
    for migration in MIGRATIONS
        .iter()
        .filter(|m| applied.binary_search(&m.version).is_err())
    {
        let failed = |error| DbError::Migrate {
            version: migration.version,
            name: migration.name,
            error,
        };
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .await
        .map_err(failed)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
        count += 1;
    }
    tx.commit()
        .await
        .map_err(DbError::query("commit migration"))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
        }
    }

    #[test]
    fn every_migration_file_is_embedded_under_its_own_number_and_name() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, embedded);
        for m in MIGRATIONS {
            let on_disk =
                std::fs::read_to_string(dir.join(format!("{:04}_{}.sql", m.version, m.name)));
            assert_eq!(on_disk.unwrap(), m.sql, "{}", m.name);
        }
    }
}
