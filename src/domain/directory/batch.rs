//! Memberships changed in batches, as Crowd's admin REST API changes them: one user into or
//! out of many groups, many users into or out of one group, many child groups into one group.
//!
//! Crowd reports a batch item by item (`MembershipService.addUsersToGroup` and its siblings
//! return a `BatchResult` of `BatchResultEntityWithCause`,
//! https://docs.atlassian.com/atlassian-crowd/7.0.0-EAP02/com/atlassian/crowd/util/BatchResultEntityWithCause.html):
//! an item that cannot be done (no such group, a membership that exists already, a cycle of
//! nested groups) is a failure of that item and the others go on. So each item is its own
//! write through [`Directories`], validated, committed in its own transaction and logged as
//! a change event like any other; the batch as a whole is one audit record with its counts.
//!
//! Memberships stay within one directory (Crowd's `MembershipService` takes one directory id
//! for the whole call): an item of another directory than the batch's user or group fails.

use super::Directories;
use crate::domain::audit::{Action, Actor};
use crate::error::{Error, Resource, Result};
use crate::store::directory::{fold, ADMIN_DIRECTORY, ADMIN_GROUP};

/// A user or a group, by its directory and its name (Crowd's `DirectoryEntityId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntity {
    pub directory: u64,
    pub name: String,
}

impl DirectoryEntity {
    pub fn new(directory: u64, name: &str) -> DirectoryEntity {
        DirectoryEntity { directory, name: name.to_string() }
    }
}

/// What a batch does. The first word names the fixed entity (the path's), the last the
/// items (the body's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    AddUserToGroups,
    RemoveUserFromGroups,
    AddUsersToGroup,
    RemoveUsersFromGroup,
    /// Nests each item in the fixed group.
    AddChildGroups,
}

impl Batch {
    /// What the fixed entity is: a user, or a group.
    fn fixed(self) -> Resource {
        match self {
            Batch::AddUserToGroups | Batch::RemoveUserFromGroups => Resource::User,
            _ => Resource::Group,
        }
    }

    /// What the items are.
    fn items(self) -> Resource {
        match self {
            Batch::AddUsersToGroup | Batch::RemoveUsersFromGroup => Resource::User,
            _ => Resource::Group,
        }
    }

    fn action(self) -> Action {
        match self {
            Batch::RemoveUserFromGroups | Batch::RemoveUsersFromGroup => Action::MembershipsRemoved,
            _ => Action::MembershipsAdded,
        }
    }

    /// The audit record's words for the fixed entity and the items.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Batch::AddUserToGroups | Batch::RemoveUserFromGroups => ("user", "groups"),
            Batch::AddUsersToGroup | Batch::RemoveUsersFromGroup => ("group", "users"),
            Batch::AddChildGroups => ("group", "child groups"),
        }
    }

    fn apply(self, d: &Directories<'_>, dir: u64, fixed: &str, item: &str) -> Result<()> {
        match self {
            Batch::AddUserToGroups => d.add_user_to_group(dir, fixed, item),
            Batch::RemoveUserFromGroups => d.remove_user_from_group(dir, fixed, item),
            Batch::AddUsersToGroup => d.add_user_to_group(dir, item, fixed),
            Batch::RemoveUsersFromGroup => d.remove_user_from_group(dir, item, fixed),
            Batch::AddChildGroups => d.add_group_to_group(dir, item, fixed),
        }
    }
}

/// Whether an error is the failure of one item, reported in the batch, rather than a fault
/// that ends the request (the store failing, say).
fn is_item_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::NotFound(..)
            | Error::UnknownReference(..)
            | Error::AlreadyExists(..)
            | Error::Invalid(..)
            | Error::NotPermitted(_)
    )
}

/// Runs `batch` for the entity `fixed` over `items`, in order, and returns each item's
/// outcome: `Ok`, or the error that explains its failure (`NotFound` of the item or of the
/// membership, `AlreadyExists(Membership)`, `Invalid(Membership)` for a cycle or another
/// directory). `NotFound` of `fixed` refuses the whole batch before any write. A fault ends
/// it at once, with what was done before it committed and audited.
pub fn run(
    d: &Directories<'_>,
    actor: &Actor,
    batch: Batch,
    fixed: &DirectoryEntity,
    items: &[DirectoryEntity],
    admin: bool,
) -> Result<Vec<Result<()>>> {
    let dir = fixed.directory;
    let stored = match batch.fixed() {
        Resource::User => d.store.user(dir, &fixed.name)?.map(|u| u.name),
        _ => d.store.group(dir, &fixed.name)?.map(|g| g.name),
    };
    let Some(stored) = stored else {
        return Err(Error::NotFound(batch.fixed(), fixed.name.clone()));
    };
    let fixed = &DirectoryEntity { directory: dir, name: stored };
    let mut outcomes = Vec::with_capacity(items.len());
    let mut fault = None;
    for item in items {
        // Crowd 7.0 lets service accounts manage memberships, but a token that can make
        // administrators is a key to everything: only an administrator changes that group.
        let admin_group = dir == ADMIN_DIRECTORY
            && (fold(&fixed.name) == ADMIN_GROUP
                || (batch.items() == Resource::Group && fold(&item.name) == ADMIN_GROUP));
        let outcome = if item.directory != dir {
            Err(other_directory(batch, item, dir))
        } else if admin_group && !admin {
            Err(Error::NotPermitted(format!(
                "only an administrator may change the memberships of {ADMIN_GROUP}"
            )))
        } else {
            batch.apply(d, dir, &fixed.name, &item.name)
        };
        match outcome {
            Err(e) if !is_item_failure(&e) => {
                fault = Some(e);
                break;
            }
            outcome => outcomes.push(outcome),
        }
    }
    if !outcomes.is_empty() {
        audit(d, actor, batch, fixed, &outcomes)?;
    }
    match fault {
        Some(e) => Err(e),
        None => Ok(outcomes),
    }
}

fn other_directory(batch: Batch, item: &DirectoryEntity, dir: u64) -> Error {
    let what = match batch.items() {
        Resource::User => "User",
        _ => "Group",
    };
    Error::Invalid(
        Resource::Membership,
        format!(
            "{what} <{}> is in directory {}, not in directory {dir}: memberships stay within one directory",
            item.name, item.directory
        ),
    )
}

/// One record for the batch: who, which user or group, how many items succeeded and failed.
fn audit(
    d: &Directories<'_>,
    actor: &Actor,
    batch: Batch,
    fixed: &DirectoryEntity,
    outcomes: &[Result<()>],
) -> Result<()> {
    let succeeded = outcomes.iter().filter(|o| o.is_ok()).count();
    let failed = outcomes.len() - succeeded;
    let (subject, items) = batch.words();
    let details = format!(
        "{subject} of directory {}; {items}: {succeeded} succeeded, {failed} failed",
        fixed.directory
    );
    let record = actor.record(d.clock.now_ms(), batch.action(), &fixed.name, details);
    d.store.append_audit(record)?;
    Ok(())
}
