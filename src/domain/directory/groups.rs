//! Groups: create, change, delete and attributes, validated before the store.

use super::{validate, Directories};
use crate::error::{Resource, Result};
use crate::store::records::GroupRecord;
use std::collections::BTreeMap;

/// A group to create, as the caller read it.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
    /// `GROUP` or `LEGACY_ROLE`.
    pub kind: String,
    pub active: bool,
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// Changes to a group: each `Some` field replaces the stored one, each `None` keeps it.
/// Crowd has no group rename.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    pub description: Option<String>,
    pub kind: Option<String>,
    pub active: Option<bool>,
}

impl Directories<'_> {
    /// Creates a group in directory `dir`. `Invalid(Group)` for a bad field,
    /// `AlreadyExists(Group)` for a taken name, `NotFound(Directory)`.
    pub fn create_group(&self, dir: u64, new: NewGroup) -> Result<GroupRecord> {
        self.writable(dir)?;
        validate::name(Resource::Group, "group name", &new.name)?;
        validate::text(Resource::Group, "description", &new.description)?;
        validate::group_type(&new.kind)?;
        validate::attributes(Resource::Group, &new.attributes)?;
        let now = self.clock.now_ms();
        self.store.create_group(&GroupRecord {
            directory_id: dir,
            name: new.name,
            description: new.description,
            kind: new.kind,
            active: new.active,
            created: now,
            updated: now,
            attributes: new.attributes,
        })
    }

    /// Applies `changes` to the group. `Invalid(Group)` for a bad field, `NotFound(Group)`.
    pub fn update_group(&self, dir: u64, name: &str, changes: GroupChanges) -> Result<GroupRecord> {
        self.writable(dir)?;
        if let Some(d) = &changes.description {
            validate::text(Resource::Group, "description", d)?;
        }
        if let Some(k) = &changes.kind {
            validate::group_type(k)?;
        }
        let apply = |group: &mut GroupRecord| {
            if let Some(d) = changes.description {
                group.description = d;
            }
            if let Some(k) = changes.kind {
                group.kind = k;
            }
            if let Some(a) = changes.active {
                group.active = a;
            }
            Ok(())
        };
        self.store.update_group(dir, name, apply, self.clock.now_ms())
    }

    /// Deletes a group and every membership it takes part in. `NotFound(Group)`.
    pub fn delete_group(&self, dir: u64, name: &str) -> Result<()> {
        self.writable(dir)?;
        // The group that grants admin rights is never deleted: removing all its members at
        // once would leave no administrator (checking each against the others cannot see that).
        if dir == crate::store::directory::ADMIN_DIRECTORY
            && crate::store::directory::fold(name) == crate::store::directory::ADMIN_GROUP
        {
            return Err(crate::error::Error::Invalid(
                Resource::Group,
                "crowd-administrators grants admin rights and cannot be deleted".into(),
            ));
        }
        self.store.delete_group(dir, name, self.clock.now_ms())
    }

    /// Stores (or replaces) the named attributes, leaving the group's others as they are.
    pub fn store_group_attributes(
        &self,
        dir: u64,
        name: &str,
        attributes: BTreeMap<String, Vec<String>>,
    ) -> Result<GroupRecord> {
        self.writable(dir)?;
        validate::attributes(Resource::Group, &attributes)?;
        let within_limit =
            |own: &_, added: &_| validate::merged_attributes(Resource::Group, own, added);
        self.store.store_group_attributes(dir, name, attributes, &within_limit, self.clock.now_ms())
    }

    /// Deletes one attribute of the group (one it does not have is no error).
    pub fn delete_group_attribute(
        &self,
        dir: u64,
        name: &str,
        attribute: &str,
    ) -> Result<GroupRecord> {
        self.writable(dir)?;
        self.store.delete_group_attribute(dir, name, attribute, self.clock.now_ms())
    }
}
