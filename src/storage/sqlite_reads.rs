//! Hot reads from a SQLite database, on the calling thread.
//!
//! sqlx's SQLite driver runs each connection on a worker thread of its own
//! and hands every query and its rows across a channel: two thread wake-ups
//! per query, which under load cost more than the query (an indexed read
//! from the page cache takes a few microseconds). A profile of Pseudoniem
//! under load spent about half its time there. So the reads on the hot path
//! (Dossier's consent look-up behind CheckPermission) use these instead: a
//! few read-only rusqlite connections to the same file, with prepared
//! statements, run inline on the task's own thread.
//!
//! Why inline is safe here: in WAL mode a reader never waits for the writer
//! or for other readers, so the thread is held only for the read itself.
//! Why it stays exact: each read sees every transaction committed before it
//! began, including writes made through sqlx on another connection, so a
//! patient's Decline is seen by the very next CheckPermission. Nothing is
//! cached between reads.
//!
//! Writes, migrations and PostgreSQL stay on sqlx: one code path for both
//! engines, with the writer lock's waits off the runtime's threads.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::StorageError;

/// Idle connections kept for reuse. Reads never await, so no more run at
/// once than the runtime has threads; a few more are opened if ever needed
/// and dropped after.
const MAX_IDLE: usize = 8;
/// How long a read waits on a lock (only a WAL checkpoint can hold one).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

pub struct SqliteReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReads {
    /// Read connections to the database file at `path`; `None` for an
    /// in-memory database, which other connections cannot see.
    pub fn new(path: &Path) -> Option<Self> {
        let name = path.as_os_str();
        if name.is_empty() || name == ":memory:" {
            return None;
        }
        Some(Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `read` on a read-only connection, on this thread.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        let connection = match self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(connection) => connection,
            None => self.open()?,
        };
        let result = read(&connection).map_err(StorageError::from);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
        result
    }

    fn open(&self) -> Result<Connection, StorageError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // Enough prepared statements for every hot read of a store.
        connection.set_prepared_statement_cache_capacity(16);
        Ok(connection)
    }
}
