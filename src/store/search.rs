//! Searching users and groups with a restriction (`domain::search`), paged, in name order.
//!
//! One read transaction per search. Rows are keyed (directory id, lower-cased name), so a
//! directory's rows are one stretch of the table in name order, and a restriction on `name`
//! (EXACTLY_MATCHES, STARTS_WITH) narrows the stretch further. A scan stops once the page is
//! full: the first page of 100 from 100,000 users decodes about 100 records, not 100,000. An
//! unrestricted scan skips `start` rows without decoding them.
//!
//! Over several directories (an application maps several), Crowd aggregates by name: the
//! first directory holding a name is where that name lives for the application, so a user
//! in a later directory is hidden by any user of the same name earlier, whether or not that
//! one matches (as authentication would find the earlier one). Each directory then needs to
//! give at most `start + max` visible matches for the merged page to be right.

use super::records::{GroupRecord, UserRecord};
use super::tables::{GROUPS, USERS};
use super::{decode, Store};
use crate::domain::search::{NameKeys, Restriction};
use crate::error::Result;
use redb::{ReadOnlyTable, TableDefinition};
use serde::de::DeserializeOwned;

type NameTable = ReadOnlyTable<(u64, &'static str), &'static [u8]>;

impl Store {
    /// The users of directory `dir` that match `r`, in name order, skipping the first `start`
    /// matches and returning at most `max` (all when `None`).
    pub fn search_users(
        &self,
        dir: u64,
        r: &Restriction,
        start: usize,
        max: Option<usize>,
    ) -> Result<Vec<UserRecord>> {
        self.search_users_in(&[dir], r, start, max)
    }

    /// As [`Store::search_users`] over the directories `dirs`, in lookup order: a name found
    /// in an earlier directory hides the same name in later ones.
    pub fn search_users_in(
        &self,
        dirs: &[u64],
        r: &Restriction,
        start: usize,
        max: Option<usize>,
    ) -> Result<Vec<UserRecord>> {
        self.search(USERS, dirs, r, &|r, u| r.matches_user(u), start, max)
    }

    /// The groups of directory `dir` that match `r`; paged as [`Store::search_users`].
    pub fn search_groups(
        &self,
        dir: u64,
        r: &Restriction,
        start: usize,
        max: Option<usize>,
    ) -> Result<Vec<GroupRecord>> {
        self.search_groups_in(&[dir], r, start, max)
    }

    /// As [`Store::search_groups`] over several directories, aggregated as
    /// [`Store::search_users_in`].
    pub fn search_groups_in(
        &self,
        dirs: &[u64],
        r: &Restriction,
        start: usize,
        max: Option<usize>,
    ) -> Result<Vec<GroupRecord>> {
        self.search(GROUPS, dirs, r, &|r, g| r.matches_group(g), start, max)
    }

    fn search<T: DeserializeOwned>(
        &self,
        table: TableDefinition<(u64, &'static str), &'static [u8]>,
        dirs: &[u64],
        r: &Restriction,
        matches: &dyn Fn(&Restriction, &T) -> bool,
        start: usize,
        max: Option<usize>,
    ) -> Result<Vec<T>> {
        if max == Some(0) || dirs.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.read()?;
        let table = txn.open_table(table)?;
        let scan = Scan { table: &table, r, keys: r.name_prefix(), all: r.is_all(), matches };
        if let [dir] = dirs {
            let mut found = Vec::new();
            scan.run(*dir, &[], start, max, &mut found)?;
            return Ok(found.into_iter().map(|(_, record)| record).collect());
        }
        let per_directory = max.map(|m| start.saturating_add(m));
        let mut found = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            scan.run(*dir, &dirs[..i], 0, per_directory, &mut found)?;
        }
        // Names are unique across directories by now: hidden ones were never collected.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let page = found.into_iter().skip(start).map(|(_, record)| record);
        Ok(match max {
            Some(m) => page.take(m).collect(),
            None => page.collect(),
        })
    }
}

/// One restriction's walk over one table.
struct Scan<'a, T> {
    table: &'a NameTable,
    r: &'a Restriction,
    keys: Option<NameKeys>,
    /// The restriction holds for every row: records need no decoding to be skipped.
    all: bool,
    matches: &'a dyn Fn(&Restriction, &T) -> bool,
}

impl<T: DeserializeOwned> Scan<'_, T> {
    /// Appends to `out` the matches in directory `dir` whose names no directory of `earlier`
    /// holds, with their keys, skipping `skip` of them and stopping at `take`.
    fn run(
        &self,
        dir: u64,
        earlier: &[u64],
        mut skip: usize,
        take: Option<usize>,
        out: &mut Vec<(String, T)>,
    ) -> Result<()> {
        let mut taken = 0;
        let mut visit = |name: &str, bytes: &[u8]| -> Result<bool> {
            for &d in earlier {
                if self.table.get((d, name))?.is_some() {
                    return Ok(true);
                }
            }
            if self.all && skip > 0 {
                skip -= 1;
                return Ok(true);
            }
            let record: T = decode(bytes)?;
            if !(self.matches)(self.r, &record) {
                return Ok(true);
            }
            if skip > 0 {
                skip -= 1;
                return Ok(true);
            }
            out.push((name.to_string(), record));
            taken += 1;
            Ok(take.is_none_or(|t| taken < t))
        };
        let from = match &self.keys {
            Some(NameKeys::Exact(name)) => {
                if let Some(row) = self.table.get((dir, name.as_str()))? {
                    visit(name, row.value())?;
                }
                return Ok(());
            }
            Some(NameKeys::Prefix(prefix)) => prefix.as_str(),
            None => "",
        };
        for row in self.table.range((dir, from)..)? {
            let (key, value) = row?;
            let (d, name) = key.value();
            if d != dir || !name.starts_with(from) || !visit(name, value.value())? {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::{cql, EntityType};
    use serde_json::json;

    fn temp_store() -> (Store, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "throng-search-{}.redb",
            crate::crypto::hex(&crate::crypto::random_bytes::<6>())
        ));
        (Store::open(&path).unwrap(), path)
    }

    /// Writes rows straight into a table: a record built from JSON takes defaults for any
    /// field added later, and the row layout is all a search reads.
    fn put(store: &Store, table: TableDefinition<(u64, &str), &[u8]>, dir: u64, record: &[u8]) {
        let name = serde_json::from_slice::<serde_json::Value>(record).map_or_else(
            |_| "zzz-corrupt".to_string(),
            |v| v["name"].as_str().unwrap().to_string(),
        );
        let txn = store.write().unwrap();
        txn.open_table(table).unwrap().insert((dir, name.to_lowercase().as_str()), record).unwrap();
        txn.commit().unwrap();
    }

    fn add_user(store: &Store, dir: u64, name: &str, active: bool) {
        let email = format!("{name}@d{dir}.example");
        let user = json!({"directory_id": dir, "name": name, "email": email,
            "active": active, "created": 0, "updated": 0});
        put(store, USERS, dir, &serde_json::to_vec(&user).unwrap());
    }

    fn add_group(store: &Store, dir: u64, name: &str, description: &str) {
        let group = json!({"directory_id": dir, "name": name, "description": description,
            "kind": "GROUP", "active": true, "created": 0, "updated": 0});
        put(store, GROUPS, dir, &serde_json::to_vec(&group).unwrap());
    }

    fn users(q: &str) -> Restriction {
        cql::parse(q, EntityType::User).unwrap()
    }

    fn names(found: Vec<UserRecord>) -> Vec<String> {
        found.into_iter().map(|u| format!("{}@{}", u.name, u.directory_id)).collect()
    }

    #[test]
    fn pages_in_name_order_within_one_directory() {
        let (store, path) = temp_store();
        for (i, name) in ["dave", "Alice", "carol", "Bob", "erin", "frank"].iter().enumerate() {
            add_user(&store, 1, name, i % 2 == 0);
        }
        add_user(&store, 2, "aaron", true);
        add_user(&store, 0, "zed", true);
        let all = Restriction::All;
        let page = |start, max| names(store.search_users(1, &all, start, max).unwrap());
        assert_eq!(page(0, None), ["Alice@1", "Bob@1", "carol@1", "dave@1", "erin@1", "frank@1"]);
        assert_eq!(page(1, Some(2)), ["Bob@1", "carol@1"]);
        assert_eq!(page(5, Some(10)), ["frank@1"]);
        assert!(page(6, None).is_empty());
        assert!(page(0, Some(0)).is_empty());
        // `start` counts matches, not rows: the active users are carol, dave and erin.
        let active = users("active=true");
        let found = names(store.search_users(1, &active, 1, Some(1)).unwrap());
        assert_eq!(found, ["dave@1"]);
        assert!(store.search_users(3, &all, 0, None).unwrap().is_empty());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn name_restrictions_read_only_their_stretch() {
        let (store, path) = temp_store();
        for name in ["bo", "Bob", "bobby", "bOnnie", "carl", "abe"] {
            add_user(&store, 1, name, true);
        }
        add_user(&store, 2, "bob", true);
        // A row that cannot be decoded, after every b-name: reading it would fail the search.
        put(&store, USERS, 1, b"not json");
        let found = |q: &str, max| names(store.search_users(1, &users(q), 0, max).unwrap());
        assert_eq!(found("name=BOB", None), ["Bob@1"]);
        assert_eq!(found("name=bob*", None), ["Bob@1", "bobby@1"]);
        assert_eq!(found("name=bo* and email=*bonnie*", None), ["bOnnie@1"]);
        assert!(found("name=nobody", None).is_empty());
        assert_eq!(found("name=*", Some(3)), ["abe@1", "bo@1", "Bob@1"]);
        assert_eq!(found("", Some(6)).len(), 6, "an unrestricted page stops before the bad row");
        assert!(store.search_users(1, &users("name=*"), 0, None).is_err(), "the bad row is there");
        assert!(store.search_users(1, &Restriction::All, 6, Some(1)).is_err());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn earlier_directories_hide_later_names() {
        let (store, path) = temp_store();
        for name in ["amy", "bob", "dan"] {
            add_user(&store, 1, name, name != "bob");
        }
        for name in ["Bob", "cat", "eve", "AMY"] {
            add_user(&store, 2, name, true);
        }
        for name in ["cat", "fay", "bea"] {
            add_user(&store, 3, name, true);
        }
        let search = |dirs: &[u64], q: &str, start, max| {
            names(store.search_users_in(dirs, &users(q), start, max).unwrap())
        };
        let merged = ["amy@1", "bea@3", "bob@1", "cat@2", "dan@1", "eve@2", "fay@3"];
        assert_eq!(search(&[1, 2, 3], "", 0, None), merged);
        for start in 0..8 {
            for max in 1..4 {
                let expected: Vec<_> = merged.iter().copied().skip(start).take(max).collect();
                assert_eq!(search(&[1, 2, 3], "", start, Some(max)), expected, "{start} {max}");
            }
        }
        // bob of directory 1 is inactive: directory 2's active Bob stays hidden behind it.
        assert_eq!(
            search(&[1, 2, 3], "active=true", 0, None),
            ["amy@1", "bea@3", "cat@2", "dan@1", "eve@2", "fay@3"]
        );
        assert_eq!(search(&[1, 2, 3], "active=true", 2, Some(2)), ["cat@2", "dan@1"]);
        assert_eq!(search(&[2, 1], "name=bob", 0, None), ["Bob@2"]);
        assert_eq!(search(&[3, 2], "name=cat", 0, None), ["cat@3"]);
        let with_a = ["AMY@2", "bea@3", "cat@3", "dan@1", "fay@3"];
        assert_eq!(search(&[3, 2, 1], "name=*a*", 0, None), with_a);
        assert_eq!(search(&[3, 2, 1], "name=*a*", 1, Some(3)), with_a[1..4]);
        assert_eq!(search(&[1, 1], "", 0, None), ["amy@1", "bob@1", "dan@1"]);
        assert!(search(&[], "", 0, None).is_empty());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn groups_search_alike() {
        let (store, path) = temp_store();
        add_group(&store, 1, "crowd-administrators", "Crowd administrators");
        add_group(&store, 1, "developers", "People who build");
        add_group(&store, 2, "Developers", "Shadowed");
        add_group(&store, 2, "testers", "People who test");
        let groups = |q: &str| cql::parse(q, EntityType::Group).unwrap();
        let found = |dirs: &[u64], q: &str| -> Vec<String> {
            let found = store.search_groups_in(dirs, &groups(q), 0, None).unwrap();
            found.into_iter().map(|g| format!("{}@{}", g.name, g.directory_id)).collect()
        };
        assert_eq!(found(&[1], "description=*people*"), ["developers@1"]);
        assert_eq!(found(&[1, 2], "description=*people*"), ["developers@1", "testers@2"]);
        assert_eq!(found(&[2, 1], "name=dev*"), ["Developers@2"]);
        let one = store.search_groups(1, &groups("name=crowd*"), 0, Some(1)).unwrap();
        assert_eq!(one[0].name, "crowd-administrators");
        let _ = std::fs::remove_file(path);
    }
}
