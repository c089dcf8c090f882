//! Users: create (with or without a password), change, rename, delete, passwords and
//! attributes. Validation and the password KDF run before the store's write transaction, so
//! the slow hash never holds the writer.

use super::{validate, Directories};
use crate::crypto;
use crate::error::{Error, Resource, Result};
use crate::store::records::UserRecord;
use std::collections::BTreeMap;

/// A user to create, as the caller read it. No `Debug`: it may hold a password.
#[derive(Clone, Default)]
pub struct NewUser {
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    /// Empty: "first last", or the name when both are empty too.
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub external_id: String,
    /// `None` creates a user without a password credential, who cannot log in with one.
    pub password: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// Changes to a user: each `Some` field replaces the stored one, each `None` keeps it. The
/// name changes by [`Directories::rename_user`], the password by
/// [`Directories::set_password`].
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub active: Option<bool>,
    pub external_id: Option<String>,
}

/// What a user is shown as when no display name was given.
fn default_display_name(name: &str, first: &str, last: &str) -> String {
    let joined = format!("{first} {last}");
    match joined.trim() {
        "" => name.to_string(),
        both => both.to_string(),
    }
}

fn check_fields(first: &str, last: &str, display: &str, email: &str, external: &str) -> Result<()> {
    validate::text(Resource::User, "first name", first)?;
    validate::text(Resource::User, "last name", last)?;
    validate::text(Resource::User, "display name", display)?;
    validate::email(email)?;
    validate::text(Resource::User, "external id", external)
}

impl UserChanges {
    fn check(&self) -> Result<()> {
        let field = |f: &Option<String>| f.clone().unwrap_or_default();
        check_fields(
            &field(&self.first_name),
            &field(&self.last_name),
            &field(&self.display_name),
            &field(&self.email),
            &field(&self.external_id),
        )
    }

    fn apply(self, user: &mut UserRecord) {
        let set = |field: &mut String, value: Option<String>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut user.first_name, self.first_name);
        set(&mut user.last_name, self.last_name);
        set(&mut user.display_name, self.display_name);
        set(&mut user.email, self.email);
        set(&mut user.external_id, self.external_id);
        if let Some(active) = self.active {
            user.active = active;
        }
    }
}

impl Directories<'_> {
    /// Creates a user in directory `dir` and returns it as stored, key included.
    /// `Invalid(User)` for a bad field, `InvalidCredential` for an empty password,
    /// `AlreadyExists(User)` for a taken name (checked before the password is hashed, and
    /// again in the store's transaction), `NotFound(Directory)`.
    pub fn create_user(&self, dir: u64, new: NewUser) -> Result<UserRecord> {
        self.writable(dir)?;
        validate::name(Resource::User, "user name", &new.name)?;
        check_fields(
            &new.first_name,
            &new.last_name,
            &new.display_name,
            &new.email,
            &new.external_id,
        )?;
        validate::attributes(Resource::User, &new.attributes)?;
        if let Some(p) = &new.password {
            validate::password(p)?;
        }
        if self.store.user(dir, &new.name)?.is_some() {
            return Err(Error::AlreadyExists(Resource::User, new.name));
        }
        let password_hash =
            new.password.as_deref().map(|p| crypto::hash_password(p, self.pbkdf2_iterations));
        let now = self.clock.now_ms();
        let display_name = match new.display_name.as_str() {
            "" => default_display_name(&new.name, &new.first_name, &new.last_name),
            given => given.to_string(),
        };
        self.store.create_user(&UserRecord {
            directory_id: dir,
            name: new.name,
            key: String::new(),
            external_id: new.external_id,
            first_name: new.first_name,
            last_name: new.last_name,
            display_name,
            email: new.email,
            active: new.active,
            created: now,
            updated: now,
            password_hash,
            password_expired: false,
            attributes: new.attributes,
        })
    }

    /// Applies `changes` to the user. `Invalid(User)` for a bad field, `NotFound(User)`.
    pub fn update_user(&self, dir: u64, name: &str, changes: UserChanges) -> Result<UserRecord> {
        self.writable(dir)?;
        changes.check()?;
        let _checked = if changes.active == Some(false) {
            self.keep_an_administrator(dir, name, "be deactivated")?
        } else {
            None
        };
        self.store.update_user(
            dir,
            name,
            |user| {
                changes.apply(user);
                Ok(())
            },
            self.clock.now_ms(),
        )
    }

    /// Renames a user, keeping its key and memberships. `Invalid(User)` for a bad new name,
    /// `AlreadyExists(User)` when another user has it, `NotFound(User)`.
    pub fn rename_user(&self, dir: u64, old: &str, new: &str) -> Result<UserRecord> {
        self.writable(dir)?;
        validate::name(Resource::User, "new user name", new)?;
        self.store.rename_user(dir, old, new, self.clock.now_ms())
    }

    /// Deletes a user and its memberships. `NotFound(User)`.
    pub fn delete_user(&self, dir: u64, name: &str) -> Result<()> {
        self.writable(dir)?;
        let _checked = self.keep_an_administrator(dir, name, "be deleted")?;
        self.store.delete_user(dir, name, self.clock.now_ms())
    }

    /// Gives the user a new password. `InvalidCredential` for an empty one, `NotFound(User)`
    /// (checked before the hash is computed, so an unknown name costs no KDF run).
    pub fn set_password(&self, dir: u64, name: &str, password: &str) -> Result<()> {
        self.writable(dir)?;
        validate::password(password)?;
        if self.store.user(dir, name)?.is_none() {
            return Err(Error::NotFound(Resource::User, name.to_string()));
        }
        let hash = crypto::hash_password(password, self.pbkdf2_iterations);
        self.set_password_hash(dir, name, Some(hash))
    }

    /// Removes the user's password credential: it can no longer log in with one.
    pub fn clear_password(&self, dir: u64, name: &str) -> Result<()> {
        self.writable(dir)?;
        let _checked = self.keep_an_administrator(dir, name, "lose the password")?;
        self.set_password_hash(dir, name, None)
    }

    fn set_password_hash(&self, dir: u64, name: &str, hash: Option<String>) -> Result<()> {
        let set = |user: &mut UserRecord| {
            user.password_hash = hash;
            user.password_expired = false;
            Ok(())
        };
        self.store.update_user(dir, name, set, self.clock.now_ms()).map(|_| ())
    }

    /// Marks every password of directory `dir` expired: each user must set a new one before
    /// logging in again (Crowd's `expire-all-passwords`). Returns how many were marked.
    pub fn expire_all_passwords(&self, dir: u64) -> Result<usize> {
        self.writable(dir)?;
        self.store.expire_passwords(dir)
    }

    /// Stores (or replaces) the named attributes, leaving the user's others as they are.
    pub fn store_user_attributes(
        &self,
        dir: u64,
        name: &str,
        attributes: BTreeMap<String, Vec<String>>,
    ) -> Result<UserRecord> {
        self.writable(dir)?;
        validate::attributes(Resource::User, &attributes)?;
        let within_limit =
            |own: &_, added: &_| validate::merged_attributes(Resource::User, own, added);
        self.store.store_user_attributes(dir, name, attributes, &within_limit, self.clock.now_ms())
    }

    /// Deletes one attribute of the user (one it does not have is no error).
    pub fn delete_user_attribute(
        &self,
        dir: u64,
        name: &str,
        attribute: &str,
    ) -> Result<UserRecord> {
        self.writable(dir)?;
        self.store.delete_user_attribute(dir, name, attribute, self.clock.now_ms())
    }
}
