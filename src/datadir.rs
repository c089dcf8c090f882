//! The data directory and the rules that keep its files together and private.
//!
//! `throng.redb` and `secret.key` are one thing in two files: the key encrypts the client
//! secrets the database holds and signs the tokens it records, so a database is useless with
//! any other key. This module makes sure throng never runs on a mismatched pair. A database
//! whose key is missing is refused rather than given a new key (which would silently kill every
//! live token and make every stored secret unreadable), and so is a key whose check value
//! differs from the one the database recorded at first start. Both refusals say how to restore
//! from backup, or how to start over, and come before the database is opened for writing, so
//! the file is left as it was. (A file from before check values has none to compare: it is
//! checked after its open, by a stored client secret that must decrypt, and then gets one.)
//!
//! It also owns the files' modes: the directory is created 0700, the key and password files
//! are 0600.

use crate::app::{DB_FILE, INITIAL_PASSWORD_FILE, KEY_FILE};
use crate::crypto::{self, Keys};
use crate::error::{Error, Result};
use crate::store::records::{Credential, OAuthClientRecord};
use crate::store::Store;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

/// Creates the data directory owner-only (0700), parents included, or checks an existing one.
///
/// An existing directory that group or others may use is left as it is, with a warning: the
/// operator made it, perhaps so for a backup agent's group, and every file throng keeps in it
/// is 0600 whatever the directory's mode. The warning says what the mode exposes.
pub fn prepare(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            warn_if_open(dir, &m);
            Ok(())
        }
        Ok(_) => Err(Error::Startup(format!("{} is not a directory", dir.display()))),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir).map_err(|e| Error::Startup(format!("creating {}: {e}", dir.display())))
        }
        Err(e) => Err(Error::Startup(format!("{}: {e}", dir.display()))),
    }
}

#[cfg(unix)]
fn warn_if_open(dir: &Path, m: &fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = m.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        log::warn!(
            "data directory {} is writable by group or others (mode {mode:04o}): they can \
             replace throng.redb and secret.key; make it owner-only (chmod 700)",
            dir.display()
        );
    } else if mode & 0o077 != 0 {
        log::warn!(
            "data directory {} is open to group or others (mode {mode:04o}): its files are \
             owner-only, but their names and sizes show; chmod 700 hides them",
            dir.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_open(_: &Path, _: &fs::Metadata) {}

/// Reads the master key, or creates it (0600) on a first start, and derives the subkeys.
///
/// A database without its key is refused, and nothing is created or written: the operator
/// can still put the right key back. A key file that group or others may read is made 0600
/// again, with a warning. Fixing beats refusing here: throng is the file's only reader, a
/// chmod closes the hole at once, and a refusal would turn a restore that kept a loose umask
/// into an outage without making the key any less exposed than it already was.
pub fn load_key(dir: &Path) -> Result<Keys> {
    let path = dir.join(KEY_FILE);
    let db = dir.join(DB_FILE);
    let existing = match fs::symlink_metadata(&path) {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => return Err(Error::Startup(format!("{}: {e}", path.display()))),
    };
    if !existing {
        if db.exists() {
            return Err(Error::Startup(missing_key(dir)));
        }
        let key: [u8; 32] = crypto::random_bytes();
        write_private(&path, &key)?;
        // The key's directory entry must be durable before the database is created, or a
        // power cut could leave a database without its key, which is refused.
        sync_dir(dir)?;
        return Ok(Keys::from_master(&key));
    }
    restrict(&path, "Anyone who read it meanwhile can forge tokens and read client secrets")?;
    let bytes =
        fs::read(&path).map_err(|e| Error::Startup(format!("reading {}: {e}", path.display())))?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        Error::Startup(format!(
            "{} must hold exactly 32 bytes; it holds {}. {}",
            path.display(),
            bytes.len(),
            RESTORE
        ))
    })?;
    Ok(Keys::from_master(&key))
}

/// Makes a left-over `initial-admin-password` owner-only again, if one is there.
pub fn restrict_initial_password(dir: &Path) -> Result<()> {
    let path = dir.join(INITIAL_PASSWORD_FILE);
    if path.exists() {
        restrict(&path, "Anyone who read it meanwhile may know the admin password: change it")?;
    }
    Ok(())
}

const DIFFERS: &str = "its check value differs from the one the database recorded";

/// Before the database is opened for writing: refuses `keys` if the database records another
/// key's check value. Nothing is written to a database refused here.
pub fn check_key_before_open(dir: &Path, keys: &Keys) -> Result<()> {
    match Store::peek_key_check(&dir.join(DB_FILE)) {
        Some(v) if v != keys.check_value() => Err(Error::Startup(wrong_key(dir, DIFFERS))),
        _ => Ok(()),
    }
}

/// After the open: checks that `keys` is the key `store` was written with, by the check value
/// the store recorded; a store without one (written before check values) is checked against a
/// stored client secret instead, which must decrypt, and then gets the check value recorded.
pub fn check_key(
    dir: &Path,
    store: &Store,
    keys: &Keys,
    clients: &[OAuthClientRecord],
) -> Result<()> {
    let ours = keys.check_value();
    match store.key_check()? {
        Some(v) if v == ours => return Ok(()),
        Some(_) => return Err(Error::Startup(wrong_key(dir, DIFFERS))),
        None => {}
    }
    let sealed = clients.iter().flat_map(|c| &c.credentials).find_map(|c| {
        let Credential::ClientSecret(s) = c else {
            return None;
        };
        Some((crypto::b64url_decode(&s.secret_sealed)?, s.client_id.as_str()))
    });
    if let Some((sealed, client_id)) = sealed {
        if keys.open_secret(&sealed, client_id).is_none() {
            return Err(Error::Startup(wrong_key(
                dir,
                &format!("the stored secret of client {client_id} does not decrypt with it"),
            )));
        }
    }
    if store.record_key_check(ours)? != ours {
        // Another process recorded a different one since we looked: it cannot be ours.
        return Err(Error::Startup(wrong_key(dir, DIFFERS)));
    }
    if store.has_directories()? {
        log::info!("recorded the check value of {KEY_FILE} in {DB_FILE}, which had none");
    }
    Ok(())
}

const RESTORE: &str = "To keep the data, restore secret.key from the backup this throng.redb \
     came from (the two belong together), owner-only (chmod 600), and start throng again";

fn start_over(dir: &Path) -> String {
    format!(
        "To start over instead, with a new admin and no service accounts, clients or tokens, \
         move {} out of {} (keep it until you are sure) and start throng again",
        DB_FILE,
        dir.display()
    )
}

fn missing_key(dir: &Path) -> String {
    format!(
        "{db} exists but {key} is missing. That key encrypts every client secret in the \
         database and signs every access token: without it no stored secret can be read and \
         no live token is valid, so throng will not make a new one. Nothing was changed. \
         {RESTORE}. {over}.",
        db = dir.join(DB_FILE).display(),
        key = dir.join(KEY_FILE).display(),
        over = start_over(dir),
    )
}

fn wrong_key(dir: &Path, why: &str) -> String {
    format!(
        "{key} is not the key {db} was written with ({why}); it may come from another \
         installation or another backup. {RESTORE}. {over}.",
        db = dir.join(DB_FILE).display(),
        key = dir.join(KEY_FILE).display(),
        over = start_over(dir),
    )
}

/// Makes `path` owner-only (0600) if group or others may use it, and says so.
#[cfg(unix)]
fn restrict(path: &Path, risk: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|e| Error::Startup(format!("{}: {e}", path.display())))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| {
        Error::Startup(format!(
            "{} is open to group or others (mode {mode:04o}) and cannot be made 0600: {e}; \
             make it owner-only (chmod 600) and start throng again",
            path.display()
        ))
    })?;
    log::warn!(
        "{} was open to group or others (mode {mode:04o}); made it 0600. {risk}; find out how \
         it was loosened (a restore from backup?)",
        path.display()
    );
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: &str) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::Internal(format!("syncing {}: {e}", dir.display())))
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> Result<()> {
    Ok(())
}

/// Creates `path` readable by its owner only and writes `bytes` to it, durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| Error::Internal(format!("creating {}: {e}", path.display())))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
