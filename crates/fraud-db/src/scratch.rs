//! Throw-away databases for integration tests (feature `test-support`).
//!
//! Each test gets its own freshly created database on the real local server, so
//! tests cannot see each other's rows and run in parallel. The database is dropped
//! when the [`ScratchDatabase`] is, also when the test panics.

use crate::{connect, error::describe, Client, DbError};

/// Where the local stack's PostgreSQL listens (`make stack-up`).
pub const DEFAULT_DATABASE_URL: &str = "postgres://fraud:fraud@127.0.0.1:55432/fraud";

/// A database created for one test and dropped with this value.
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `test_<random>` on the server of `DATABASE_URL` (default: the local
    /// stack's). Panics, telling to start the stack, when the server is unreachable:
    /// a test that needs PostgreSQL must fail without it, not pass vacuously.
    pub async fn create() -> ScratchDatabase {
        let admin_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        match ScratchDatabase::create_on(&admin_url).await {
            Ok(db) => db,
            Err(e) => panic!(
                "{e}\nThese tests need the local PostgreSQL: start it with `make stack-up` \
                 (or point DATABASE_URL at a server where the role may CREATE DATABASE)."
            ),
        }
    }

    /// Creates a fresh database on the server `admin_url` connects to; the role needs
    /// CREATEDB.
    pub async fn create_on(admin_url: &str) -> Result<ScratchDatabase, DbError> {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(admin_url).await?;
        // The name is generated above (hex only), so it is safe to splice in.
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(DbError::query("create scratch database"))?;
        let mut config: tokio_postgres::Config =
            admin_url.parse().map_err(|e| DbError::BadUrl {
                reason: describe(&e),
            })?;
        config.dbname(&name);
        Ok(ScratchDatabase {
            admin_url: admin_url.to_owned(),
            url: key_value_url(&config),
            name,
        })
    }

    /// Connection string of the scratch database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Name of the scratch database.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new connection to the scratch database.
    pub async fn connect(&self) -> Client {
        connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("scratch database {}: {e}", self.name))
    }

    /// A new connection to the scratch database, with the schema migrated.
    pub async fn migrated(&self) -> Client {
        let mut client = self.connect().await;
        crate::migrate(&mut client)
            .await
            .unwrap_or_else(|e| panic!("scratch database {}: {e}", self.name));
        client
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside the test's runtime: drop the database
        // from a thread with a runtime of its own. FORCE ends the test's connections.
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = connect(&admin_url).await.map_err(|e| e.to_string())?;
                admin
                    .batch_execute(&statement)
                    .await
                    .map_err(|e| describe(&e))
            })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop scratch database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop scratch database {}: panicked", self.name),
        }
    }
}

/// The key=value form of a connection config (the URL form cannot be rebuilt from a
/// parsed config).
fn key_value_url(config: &tokio_postgres::Config) -> String {
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut parts = Vec::new();
    if let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() {
        parts.push(format!("host={}", quote(host)));
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={}", quote(user)));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!(
            "password={}",
            quote(&String::from_utf8_lossy(password))
        ));
    }
    if let Some(dbname) = config.get_dbname() {
        parts.push(format!("dbname={}", quote(dbname)));
    }
    parts.join(" ")
}

/// The first column of every row `sql` returns (a test's look at a table).
pub async fn column<T>(client: &Client, sql: &str) -> Vec<T>
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("`{sql}`: {}", describe(&e)))
        .iter()
        .map(|row| row.get(0))
        .collect()
}
