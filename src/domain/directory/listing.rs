//! Users and groups as administrators list them: every directory's entities as entities of
//! their own, in name order across directories, paged.
//!
//! An application sees its directories aggregated, a name in an earlier directory hiding
//! the same name in later ones (`store::search`). Crowd's admin screens and its admin REST
//! API (`/rest/admin/1.0/users/search`, `UserSearchParams`, with a list of directory ids)
//! show each directory's users instead, each with its own `DirectoryEntityId`: so the same
//! name in two directories is two entries here, ordered by directory id after the name.

use crate::domain::search::{MatchMode, Property, PropertyRestriction};
use crate::domain::search::{Restriction, Term, Value};
use crate::error::Result;
use crate::store::directory::fold;
use crate::store::records::{GroupRecord, UserRecord};
use crate::store::Store;

/// Where an admin's search text is looked for in users: name, email or display name.
pub const USER_TEXT_TERMS: [Term; 3] = [Term::Name, Term::Email, Term::DisplayName];
/// Where it is looked for in groups: the name.
pub const GROUP_TEXT_TERMS: [Term; 1] = [Term::Name];

/// The restriction of an admin search box: `text` contained in any of `terms` (case does not
/// matter), and, when `active` is given, that activity. No text, or empty text, matches all.
pub fn text_search(
    terms: &[Term],
    text: Option<&str>,
    active: Option<bool>,
) -> Result<Restriction> {
    let mut parts = Vec::new();
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        let any = terms
            .iter()
            .map(|t| {
                let value = Value::String(text.to_string());
                PropertyRestriction::new(Property::Term(*t), MatchMode::Contains, value)
                    .map(Restriction::Property)
            })
            .collect::<Result<Vec<_>>>()?;
        parts.push(Restriction::Boolean { and: false, parts: any });
    }
    if let Some(active) = active {
        let term = Property::Term(Term::Active);
        let r = PropertyRestriction::new(term, MatchMode::ExactlyMatches, Value::Bool(active))?;
        parts.push(Restriction::Property(r));
    }
    Ok(match parts.len() {
        0 => Restriction::All,
        1 => parts.remove(0),
        _ => Restriction::Boolean { and: true, parts },
    })
}

/// The users of `dirs` matching `r`, in (name, directory) order, from the `start`-th match on,
/// at most `take` of them.
pub fn users(
    store: &Store,
    dirs: &[u64],
    r: &Restriction,
    start: usize,
    take: usize,
) -> Result<Vec<UserRecord>> {
    merged(
        dirs,
        start,
        take,
        |dir, max| store.search_users(dir, r, 0, Some(max)),
        |u| (fold(&u.name), u.directory_id),
    )
}

/// The groups of `dirs` matching `r`, ordered and paged as [`users`].
pub fn groups(
    store: &Store,
    dirs: &[u64],
    r: &Restriction,
    start: usize,
    take: usize,
) -> Result<Vec<GroupRecord>> {
    merged(
        dirs,
        start,
        take,
        |dir, max| store.search_groups(dir, r, 0, Some(max)),
        |g| (fold(&g.name), g.directory_id),
    )
}

/// Each directory gives its first `start + take` matches (no more can reach the page), and the
/// page is cut from their merge.
fn merged<T>(
    dirs: &[u64],
    start: usize,
    take: usize,
    search: impl Fn(u64, usize) -> Result<Vec<T>>,
    key: impl Fn(&T) -> (String, u64),
) -> Result<Vec<T>> {
    let per_directory = start.saturating_add(take);
    if take == 0 {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for &dir in dirs {
        found.extend(search(dir, per_directory)?.into_iter().map(|t| (key(&t), t)));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().skip(start).take(take).map(|(_, t)| t).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TempStore;

    fn user(store: &Store, dir: u64, name: &str, email: &str, active: bool) {
        let u = UserRecord {
            directory_id: dir,
            name: name.into(),
            email: email.into(),
            display_name: format!("{name} Person"),
            active,
            ..Default::default()
        };
        store.create_user(&u).unwrap();
    }

    fn names(found: &[UserRecord]) -> Vec<String> {
        found.iter().map(|u| format!("{}@{}", u.name, u.directory_id)).collect()
    }

    #[test]
    fn every_directory_keeps_its_own_users_in_name_order() {
        let store = TempStore::new();
        store.create_directory("one", "INTERNAL", "", 0).unwrap();
        store.create_directory("two", "INTERNAL", "", 0).unwrap();
        user(&store, 1, "bob", "bob@one.example", true);
        user(&store, 1, "Carol", "carol@one.example", false);
        user(&store, 2, "Bob", "robert@two.example", true);
        user(&store, 2, "alice", "alice@two.example", true);
        let all = Restriction::All;
        let page = |start, take| names(&users(&store, &[1, 2], &all, start, take).unwrap());
        assert_eq!(page(0, 10), ["alice@2", "bob@1", "Bob@2", "Carol@1"]);
        assert_eq!(page(1, 2), ["bob@1", "Bob@2"]);
        assert!(page(4, 10).is_empty() && page(0, 0).is_empty());
        let search = |text: &str, active| {
            let r = text_search(&USER_TEXT_TERMS, Some(text), active).unwrap();
            names(&users(&store, &[1, 2], &r, 0, 10).unwrap())
        };
        assert_eq!(search("ROBERT", None), ["Bob@2"], "by email, any case");
        assert_eq!(search("carol p", None), ["Carol@1"], "by display name");
        assert_eq!(search("B", Some(true)), ["bob@1", "Bob@2"]);
        assert_eq!(search("", Some(false)), ["Carol@1"]);
        let only_two =
            users(&store, &[2], &text_search(&USER_TEXT_TERMS, None, None).unwrap(), 0, 9);
        assert_eq!(names(&only_two.unwrap()), ["alice@2", "Bob@2"]);
    }
}
