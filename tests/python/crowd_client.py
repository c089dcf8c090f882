"""python-crowd (PyPI `crowd` 3.1.0) against a running throng: every method it has.

Run by tests/real_clients.rs with: python crowd_client.py BASE_URL ADMIN_USER ADMIN_PASSWORD
It first makes an application through throng's appmanagement API (as an operator would with
requests), then drives python-crowd's CrowdServer as an application does, checking what each
method returns. Each check prints one line; any failure raises.
"""
import sys

import crowd
import requests

base, admin, password = sys.argv[1], sys.argv[2], sys.argv[3]
checks = 0


def check(name, cond, detail=""):
    global checks
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    checks += 1
    print(f"ok {name}")


# An application allowed to do everything in the internal directory (id 1).
app = {
    "name": "pycrowd", "type": "GENERIC_APPLICATION", "description": "python-crowd", "active": True,
    "password": {"value": "app-secret"},
    "directory-mappings": [{"directory-id": 1, "authenticate-all": True, "allowed-groups": [],
                            "allowed-operations": ["CREATE_USER", "CREATE_GROUP", "UPDATE_USER", "UPDATE_GROUP",
                                                   "DELETE_USER", "DELETE_GROUP", "UPDATE_USER_ATTRIBUTE",
                                                   "UPDATE_GROUP_ATTRIBUTE"]}],
    "remote-addresses": [{"value": "127.0.0.1"}],
}
r = requests.post(base + "/rest/appmanagement/1/application", auth=(admin, password), json=app,
                  headers={"Accept": "application/json"})
check("appmanagement creates the application", r.status_code == 201, r.text)

# Crowd's default context path works as a base URL too.
cs = crowd.CrowdServer(base + "/crowd", "pycrowd", "app-secret")
bad = crowd.CrowdServer(base, "pycrowd", "wrong")
check("auth_ping with good credentials", cs.auth_ping() is True)
check("auth_ping with bad credentials", bad.auth_ping() is False)

check("add_user", cs.add_user("alice", password="alice-pw", email="alice@example.com",
                              first_name="Alice", last_name="Liddell", display_name="Alice L"), "")
check("add_user again fails", cs.add_user("Alice", password="x", email="a@example.com") is False)
try:
    cs.add_user("alice", password="x", email="a@example.com", raise_on_error=True)
    check("add_user raise_on_error raises", False, "no error")
except RuntimeError as e:
    check("add_user raise_on_error raises with Crowd's message", "alice" in str(e).lower(), str(e))
check("add_user bob", cs.add_user("bob", password="bob-pw", email="bob@example.com"))

u = cs.get_user("alice")
check("get_user", u and u["name"] == "alice" and u["email"] == "alice@example.com"
      and u["display-name"] == "Alice L" and u["active"] is True, u)
check("get_user has attributes expanded", "attributes" in u, u)
check("get_user of nobody is None", cs.get_user("nobody") is None)
check("user_exists", cs.user_exists("ALICE") is True)
check("user_exists of nobody", cs.user_exists("nobody") is None)

check("auth_user", (cs.auth_user("alice", "alice-pw") or {}).get("name") == "alice")
check("auth_user wrong password", cs.auth_user("alice", "nope") is None)
check("auth_user unknown user", cs.auth_user("nobody", "nope") is None)

check("set_user_attribute", cs.set_user_attribute("alice", "team", "blue") is True)
attrs = {a["name"]: a["values"] for a in cs.get_user("alice")["attributes"]["attributes"]}
check("the attribute is stored", attrs.get("team") == ["blue"], attrs)

check("set_active False", cs.set_active("bob", False) is True)
check("bob is inactive", cs.get_user("bob")["active"] is False)
check("inactive bob cannot authenticate", cs.auth_user("bob", "bob-pw") is None)
check("set_active True", cs.set_active("bob", True) is True)
check("bob can authenticate again", cs.auth_user("bob", "bob-pw") is not None)

check("change_password", cs.change_password("bob", "new-pw") is True)
check("old password refused", cs.auth_user("bob", "bob-pw") is None)
check("new password works", cs.auth_user("bob", "new-pw") is not None)

check("create_group", cs.create_group("devs", "Developers") is None)
check("create_group again fails", cs.create_group("devs") is not None)
check("create_group child", cs.create_group("rustaceans", "Rust") is None)
check("update_group", cs.update_group("devs", {"description": "All developers"}) is None)
check("add_child_group", cs.add_child_group("rustaceans", "devs") is None)
check("add_child_group cycle refused", cs.add_child_group("devs", "rustaceans") is not None)
check("add_user_to_group", cs.add_user_to_group("alice", "rustaceans") is True)
check("add_user_to_group again fails", cs.add_user_to_group("alice", "rustaceans") is False)
check("add_user_to_group bob", cs.add_user_to_group("bob", "devs") is True)
check("get_groups", cs.get_groups("alice") == ["rustaceans"], cs.get_groups("alice"))
check("get_nested_groups", sorted(cs.get_nested_groups("alice")) == ["devs", "rustaceans"],
      cs.get_nested_groups("alice"))
check("get_nested_group_users", sorted(cs.get_nested_group_users("devs")) == ["alice", "bob"],
      cs.get_nested_group_users("devs"))

m = cs.get_memberships()
check("get_memberships lists every group", {"devs", "rustaceans", "crowd-administrators"} <= set(m), m)
check("get_memberships users", m["devs"]["users"] == ["bob"], m)
check("get_memberships child groups", m["devs"]["groups"] == ["rustaceans"], m)

found = cs.search("user", "email", "example.com")
check("search users by email", sorted(x["name"] for x in found["users"]) == ["alice", "bob"], found)
check("search users expands", all("email" in x for x in found["users"]), found)
found = cs.search("group", "name", "rust")
check("search groups by name", [x["name"] for x in found["groups"]] == ["rustaceans"], found)

check("remove_user_from_group", cs.remove_user_from_group("bob", "devs") is True)
check("remove_user_from_group again fails", cs.remove_user_from_group("bob", "devs") is False)
check("remove_child_group", cs.remove_child_group("rustaceans", "devs") is None)
check("nested groups after removal", cs.get_nested_groups("alice") == ["rustaceans"])

session = cs.get_session("alice", "alice-pw", remote="10.1.2.3")
check("get_session", session and len(session["token"]) == 24 and session["user"]["name"] == "alice", session)
token = session["token"]
check("get_session wrong password", cs.get_session("alice", "bad") is None)
v = cs.validate_session(token, remote="10.1.2.3")
check("validate_session", v and v["user"]["name"] == "alice", v)
check("validate_session from another address fails", cs.validate_session(token, remote="10.9.9.9") is None)
check("terminate_session", cs.terminate_session(token) is True)
check("terminated session no longer validates", cs.validate_session(token, remote="10.1.2.3") is None)

conf = cs.get_cookie_conf()
check("get_cookie_conf", conf and conf["name"] == "crowd.token_key", conf)

check("send_password_reset_link says it cannot", cs.send_password_reset_link("alice") is False)

check("remove_group", cs.remove_group("rustaceans") is None)
check("remove_group again fails", cs.remove_group("rustaceans") is not None)
check("groups after removal", cs.get_groups("alice") == [], cs.get_groups("alice"))

print(f"{checks} checks passed")
