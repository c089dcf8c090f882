//! The SCIM handlers: read the request, call `domain::scim::resources`, render.

use super::render::{self, Base, Projection};
use crate::api::errors::SCIM_JSON;
use crate::app::App;
use crate::domain::scim::resources::{self as scim, version, Deps};
use crate::domain::scim::schema::{self, ResourceType};
use crate::error::{Error, Resource, ScimType};
use crate::http::failure::{Failure, Result};
use crate::http::{Request, Response};
use crate::store::records::{DirectoryRecord, ScimKind};
use serde_json::{json, Value};

/// The most resources one page holds, whatever `count` asks (Atlassian's limit).
pub const MAX_COUNT: usize = 100;

pub fn not_supported(why: &str) -> Failure {
    Error::NotSupported(why.to_string()).into()
}

/// One request to one directory.
pub struct Ctx<'a> {
    app: &'a App,
    req: &'a Request,
    dir: u64,
    base: String,
    users: &'static ResourceType,
    atlassian: bool,
}

fn scim_json(status: u16, value: &Value) -> Response {
    Response::json_as(status, value, SCIM_JSON)
}

impl<'a> Ctx<'a> {
    pub fn new(app: &'a App, req: &'a Request, dir: &DirectoryRecord) -> Ctx<'a> {
        let atlassian = dir.scim.as_ref().is_some_and(|s| s.atlassian_extension);
        Ctx {
            app,
            req,
            dir: dir.id,
            base: super::base_url(&format!("{}{}", app.base_url, req.context_path()), dir.id),
            users: if atlassian { &schema::USERS_ATLASSIAN } else { &schema::USERS },
            atlassian,
        }
    }

    fn deps(&self) -> Deps<'a> {
        Deps {
            store: &self.app.store,
            clock: &self.app.clock,
            pbkdf2_iterations: self.app.config.pbkdf2_iterations,
            kdf: &self.app.kdf,
        }
    }

    fn base(&self) -> Base<'_> {
        Base(&self.base)
    }

    /// The body as JSON: `application/scim+json` or `application/json`.
    fn body(&self) -> Result<Value> {
        match self.req.media_type().as_deref() {
            Some("application/scim+json" | "application/json") => {}
            _ => {
                return Err(Failure::Media(
                    "send application/scim+json (or application/json)".into(),
                ))
            }
        }
        serde_json::from_slice(&self.req.body).map_err(|e| {
            Error::Scim(ScimType::InvalidSyntax, format!("the body is not JSON: {e}")).into()
        })
    }

    fn if_match(&self) -> Option<&str> {
        self.req.header("If-Match")
    }

    fn projection(&self) -> Result<Projection> {
        let q = self.req.query_params()?;
        Ok(Projection::parse(q.single("attributes")?, q.single("excludedAttributes")?))
    }

    /// One resource, with its `ETag` (and `Location` when it was just made).
    fn resource(
        &self,
        status: u16,
        kind: ScimKind,
        id: &str,
        value: Value,
        version: String,
    ) -> Result<Response> {
        let value = self.projection()?.apply(value);
        let r = scim_json(status, &value).header("ETag", version);
        Ok(if status == 201 { r.header("Location", self.base().location(kind, id)) } else { r })
    }

    /// `startIndex` (1-based, default 1) and `count` (default and most [`MAX_COUNT`]).
    fn page(&self) -> Result<(usize, usize)> {
        let q = self.req.query_params()?;
        let number = |name: &str, default: i64| -> Result<i64> {
            match q.single(name)? {
                None | Some("") => Ok(default),
                Some(v) => v.parse::<i64>().map_err(|_| {
                    Error::Scim(ScimType::InvalidValue, format!("{name} must be a whole number"))
                        .into()
                }),
            }
        };
        let start = number("startIndex", 1)?.max(1) as usize;
        let count = number("count", MAX_COUNT as i64)?.clamp(0, MAX_COUNT as i64) as usize;
        Ok((start, count))
    }

    pub fn service_provider_config(&self) -> Response {
        scim_json(
            200,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "documentationUri": "https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/",
                "patch": { "supported": true },
                "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
                "filter": { "supported": true, "maxResults": MAX_COUNT },
                "changePassword": { "supported": true },
                "sort": { "supported": false },
                "etag": { "supported": true },
                "authenticationSchemes": [{
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "A token from the OAuth 2.0 token endpoint (client credentials, \
                                    private_key_jwt) with the manage:directory scope",
                    "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                    "primary": true,
                }],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": format!("{}/ServiceProviderConfig", self.base),
                },
            }),
        )
    }

    fn all_schemas(&self) -> Vec<&'static schema::Schema> {
        let mut all = vec![&self.users.core, &schema::GROUPS.core];
        all.extend(self.users.extensions.iter());
        all
    }

    pub fn schemas(&self) -> Response {
        let all: Vec<Value> =
            self.all_schemas().iter().map(|s| render::schema_resource(&self.base, s)).collect();
        scim_json(200, &render::list(all.len(), 1, all))
    }

    pub fn schema(&self, urn: &str) -> Result<Response> {
        let found = self.all_schemas().into_iter().find(|s| s.id.eq_ignore_ascii_case(urn));
        let s =
            found.ok_or_else(|| Error::NotFound(Resource::Directory, format!("schema {urn}")))?;
        Ok(scim_json(200, &render::schema_resource(&self.base, s)))
    }

    pub fn resource_types(&self) -> Response {
        let all = vec![
            render::resource_type(&self.base, self.users),
            render::resource_type(&self.base, &schema::GROUPS),
        ];
        scim_json(200, &render::list(2, 1, all))
    }

    pub fn resource_type(&self, id: &str) -> Result<Response> {
        let rt =
            [self.users, &schema::GROUPS].into_iter().find(|rt| rt.id.eq_ignore_ascii_case(id));
        let rt =
            rt.ok_or_else(|| Error::NotFound(Resource::Directory, format!("resource type {id}")))?;
        Ok(scim_json(200, &render::resource_type(&self.base, rt)))
    }

    pub fn list_users(&self) -> Result<Response> {
        let q = self.req.query_params()?;
        let query = scim::query(q.single("filter")?, true)?;
        let (start, count) = self.page()?;
        let (total, users) = self.app.store.scim_users(self.dir, &query, start - 1, count)?;
        let p = self.projection()?;
        let resources =
            users.iter().map(|u| p.apply(render::user(&self.base(), u, self.atlassian))).collect();
        Ok(scim_json(200, &render::list(total, start, resources)))
    }

    pub fn get_user(&self, id: &str) -> Result<Response> {
        let u = self
            .app
            .store
            .scim_user(self.dir, id)?
            .ok_or_else(|| Error::NotFound(Resource::User, id.into()))?;
        self.resource(
            200,
            ScimKind::User,
            id,
            render::user(&self.base(), &u, self.atlassian),
            version(&u.res),
        )
    }

    pub fn create_user(&self) -> Result<Response> {
        let u = scim::create_user(&self.deps(), self.dir, self.users, &self.body()?)?;
        self.resource(
            201,
            ScimKind::User,
            &u.id,
            render::user(&self.base(), &u, self.atlassian),
            version(&u.res),
        )
    }

    pub fn replace_user(&self, id: &str) -> Result<Response> {
        let u = scim::replace_user(
            &self.deps(),
            self.dir,
            self.users,
            id,
            &self.body()?,
            self.if_match(),
        )?;
        self.resource(
            200,
            ScimKind::User,
            id,
            render::user(&self.base(), &u, self.atlassian),
            version(&u.res),
        )
    }

    pub fn patch_user(&self, id: &str) -> Result<Response> {
        let u = scim::patch_user(
            &self.deps(),
            self.dir,
            self.users,
            id,
            &self.body()?,
            self.if_match(),
        )?;
        self.resource(
            200,
            ScimKind::User,
            id,
            render::user(&self.base(), &u, self.atlassian),
            version(&u.res),
        )
    }

    pub fn delete_user(&self, id: &str) -> Result<Response> {
        scim::delete_user(&self.deps(), self.dir, id, self.if_match())?;
        Ok(Response::no_content())
    }

    pub fn list_groups(&self) -> Result<Response> {
        let q = self.req.query_params()?;
        let query = scim::query(q.single("filter")?, false)?;
        let (start, count) = self.page()?;
        let (total, groups) = self.app.store.scim_groups(self.dir, &query, start - 1, count)?;
        let p = self.projection()?;
        let resources = groups.iter().map(|g| p.apply(render::group(&self.base(), g))).collect();
        Ok(scim_json(200, &render::list(total, start, resources)))
    }

    pub fn get_group(&self, id: &str) -> Result<Response> {
        let g = self
            .app
            .store
            .scim_group(self.dir, id)?
            .ok_or_else(|| Error::NotFound(Resource::Group, id.into()))?;
        self.resource(200, ScimKind::Group, id, render::group(&self.base(), &g), version(&g.res))
    }

    pub fn create_group(&self) -> Result<Response> {
        let g = scim::create_group(&self.deps(), self.dir, &self.body()?)?;
        self.resource(201, ScimKind::Group, &g.id, render::group(&self.base(), &g), version(&g.res))
    }

    pub fn replace_group(&self, id: &str) -> Result<Response> {
        let g = scim::replace_group(&self.deps(), self.dir, id, &self.body()?, self.if_match())?;
        self.resource(200, ScimKind::Group, id, render::group(&self.base(), &g), version(&g.res))
    }

    pub fn patch_group(&self, id: &str) -> Result<Response> {
        let g = scim::patch_group(&self.deps(), self.dir, id, &self.body()?, self.if_match())?;
        self.resource(200, ScimKind::Group, id, render::group(&self.base(), &g), version(&g.res))
    }

    pub fn delete_group(&self, id: &str) -> Result<Response> {
        scim::delete_group(&self.deps(), self.dir, id, self.if_match())?;
        Ok(Response::no_content())
    }
}
