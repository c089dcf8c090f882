//! The SCIM schemas throng serves (RFC 7643 §4, §8.7.1), as data: `/Schemas` renders them,
//! and requests are checked against them (`doc`). An attribute is listed here only if
//! throng keeps it exactly as written, so what a client writes it reads back.
//!
//! The User schema is RFC 7643's, without `groups` being writable, plus Atlassian's two
//! top-level non-standard attributes `department` and `organization`
//! (https://developer.atlassian.com/cloud/admin/user-provisioning/rest/api-group-users/).
//! Group `members` have no `display`: a server that fills it in answers a member list other
//! than the one written, which SCIM clients that compare (scim2-tester) refuse.

/// `urn:ietf:params:scim:schemas:core:2.0:User`.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Atlassian's own extension, carrying the account id (readOnly).
pub const ATLASSIAN: &str = "urn:scim:schemas:extension:atlassian-external:1.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Integer,
    Complex,
    Reference,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Default,
    Never,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub kind: Type,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    /// `server` when true, else `none`.
    pub unique: bool,
    pub sub: &'static [Attr],
    pub canonical: &'static [&'static str],
    pub refs: &'static [&'static str],
    pub description: &'static str,
}

const fn string(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        kind: Type::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        sub: &[],
        canonical: &[],
        refs: &[],
        description,
    }
}

const fn of(kind: Type, name: &'static str, description: &'static str) -> Attr {
    Attr { kind, ..string(name, description) }
}

const fn complex(name: &'static str, sub: &'static [Attr], description: &'static str) -> Attr {
    Attr { kind: Type::Complex, sub, ..string(name, description) }
}

const fn multi(a: Attr) -> Attr {
    Attr { multi: true, ..a }
}

const fn read_only(a: Attr) -> Attr {
    Attr { mutability: Mutability::ReadOnly, ..a }
}

const fn canonical(a: Attr, values: &'static [&'static str]) -> Attr {
    Attr { canonical: values, ..a }
}

const PRIMARY: Attr = of(Type::Boolean, "primary", "Whether this is the primary value");

/// The sub-attributes of RFC 7643's plural attributes: value, display, type, primary.
macro_rules! plural {
    ($kind:expr, $types:expr) => {
        &[
            of($kind, "value", "The value"),
            string("display", "A human-readable name"),
            canonical(string("type", "What kind of value"), $types),
            PRIMARY,
        ]
    };
}

pub const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..string("userName", "Unique identifier of the user, as it signs in")
    },
    complex(
        "name",
        &[
            string("formatted", "The full name"),
            string("familyName", "The family name"),
            string("givenName", "The given name"),
            string("middleName", "The middle name"),
            string("honorificPrefix", "Honorific prefix"),
            string("honorificSuffix", "Honorific suffix"),
        ],
        "The components of the user's name",
    ),
    string("displayName", "The name to display"),
    string("nickName", "The casual name"),
    Attr { refs: &["external"], ..of(Type::Reference, "profileUrl", "The user's profile page") },
    string("title", "The user's title"),
    string("userType", "The relationship to the organization"),
    string("preferredLanguage", "Preferred language (RFC 7231 Accept-Language)"),
    string("locale", "Locale for localizing values"),
    string("timezone", "Time zone, IANA name"),
    of(Type::Boolean, "active", "Whether the user may sign in"),
    Attr {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..string("password", "Sets the user's password; never returned")
    },
    multi(complex("emails", plural!(Type::String, &["work", "home", "other"]), "Email addresses")),
    multi(complex(
        "phoneNumbers",
        plural!(Type::String, &["work", "home", "mobile", "fax", "pager", "other"]),
        "Phone numbers",
    )),
    multi(complex(
        "ims",
        plural!(Type::String, &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
        "Instant messaging addresses",
    )),
    multi(complex(
        "photos",
        &[
            Attr { refs: &["external"], ..of(Type::Reference, "value", "URL of a photo") },
            string("display", "A human-readable name"),
            canonical(string("type", "What kind of photo"), &["photo", "thumbnail"]),
            PRIMARY,
        ],
        "Photos of the user",
    )),
    multi(complex(
        "addresses",
        &[
            string("formatted", "The full address"),
            string("streetAddress", "Street"),
            string("locality", "City or locality"),
            string("region", "State or region"),
            string("postalCode", "Postal code"),
            string("country", "Country (ISO 3166-1 alpha-2)"),
            canonical(string("type", "What kind of address"), &["work", "home", "other"]),
            PRIMARY,
        ],
        "Physical mailing addresses",
    )),
    multi(read_only(complex(
        "groups",
        &[
            read_only(string("value", "The group's id")),
            read_only(Attr { refs: &["Group"], ..of(Type::Reference, "$ref", "The group's URI") }),
            read_only(string("display", "The group's name")),
            read_only(canonical(string("type", "direct or indirect"), &["direct", "indirect"])),
        ],
        "The groups the user is a direct member of",
    ))),
    multi(complex("entitlements", plural!(Type::String, &[]), "Entitlements")),
    multi(complex("roles", plural!(Type::String, &[]), "Roles")),
    multi(complex("x509Certificates", plural!(Type::Binary, &[]), "Certificates (DER, base64)")),
    string("department", "Department (Atlassian's top-level attribute)"),
    string("organization", "Organization (Atlassian's top-level attribute)"),
];

pub const ENTERPRISE_ATTRS: &[Attr] = &[
    string("employeeNumber", "Employee number"),
    string("costCenter", "Cost center"),
    string("organization", "Organization"),
    string("division", "Division"),
    string("department", "Department"),
    complex(
        "manager",
        &[
            string("value", "The manager's id"),
            Attr { refs: &["User"], ..of(Type::Reference, "$ref", "The manager's URI") },
            read_only(string("displayName", "The manager's name")),
        ],
        "The user's manager",
    ),
];

pub const ATLASSIAN_ATTRS: &[Attr] = &[read_only(Attr {
    case_exact: true,
    ..string("atlassianAccountId", "The Atlassian account id")
})];

pub const GROUP_ATTRS: &[Attr] = &[
    Attr { required: true, unique: true, ..string("displayName", "The group's name") },
    multi(complex(
        "members",
        &[
            Attr {
                mutability: Mutability::Immutable,
                case_exact: true,
                ..string("value", "The member's id")
            },
            Attr {
                mutability: Mutability::Immutable,
                refs: &["User", "Group"],
                ..of(Type::Reference, "$ref", "The member's URI")
            },
            Attr {
                mutability: Mutability::Immutable,
                ..canonical(string("type", "User or Group"), &["User", "Group"])
            },
        ],
        "The group's direct members",
    )),
];

/// A schema: its URN, name and attributes.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attrs: &'static [Attr],
}

pub const USER_SCHEMA: Schema =
    Schema { id: USER, name: "User", description: "User Account", attrs: USER_ATTRS };
pub const GROUP_SCHEMA: Schema =
    Schema { id: GROUP, name: "Group", description: "Group", attrs: GROUP_ATTRS };
pub const ENTERPRISE_SCHEMA: Schema = Schema {
    id: ENTERPRISE,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attrs: ENTERPRISE_ATTRS,
};
pub const ATLASSIAN_SCHEMA: Schema = Schema {
    id: ATLASSIAN,
    name: "AtlassianUser",
    description: "Atlassian's user extension",
    attrs: ATLASSIAN_ATTRS,
};

/// `externalId`, common to every resource (RFC 7643 §3.1): not in any schema's list, but
/// written and read like the attributes that are.
pub const EXTERNAL_ID: Attr =
    Attr { case_exact: true, ..string("externalId", "The identifier the client gives it") };

/// The attribute of `attrs` called `name`, in any case (RFC 7643 §2.1).
pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// What a directory's resources are: the core schema and the extensions it allows.
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    pub id: &'static str,
    pub endpoint: &'static str,
    pub core: Schema,
    pub extensions: &'static [Schema],
}

pub const USERS: ResourceType = ResourceType {
    id: "User",
    endpoint: "/Users",
    core: USER_SCHEMA,
    extensions: &[ENTERPRISE_SCHEMA],
};
pub const USERS_ATLASSIAN: ResourceType = ResourceType {
    id: "User",
    endpoint: "/Users",
    core: USER_SCHEMA,
    extensions: &[ENTERPRISE_SCHEMA, ATLASSIAN_SCHEMA],
};
pub const GROUPS: ResourceType =
    ResourceType { id: "Group", endpoint: "/Groups", core: GROUP_SCHEMA, extensions: &[] };

impl ResourceType {
    /// The extension whose URN is `urn`, in any case.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}
