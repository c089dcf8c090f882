//! `/authentication` and `/session`: logging users in, and SSO sessions
//! (crowd-rest-plugin AuthenticationResource and TokenResource).
//!
//! `POST /session` answers 201 with the session (dex requires exactly 201); an unknown user
//! and a wrong password are both 400 `INVALID_USER_AUTHENTICATION` there, while
//! `/authentication` names an unknown user `USER_NOT_FOUND`, as Crowd does.

use super::entities;
use super::Call;
use crate::domain::login::{self, Unknown};
use crate::domain::sessions::{self, Factors, Live};
use crate::error::Error;
use crate::http::body::{Fields, Obj};
use crate::http::failure::Result;
use crate::http::Response;

/// `{"validationFactors":[{"name","value"}]}` / `<validation-factors><validation-factor>
/// <name/><value/></validation-factor></validation-factors>`.
fn read_factors(f: Fields<'_>) -> Result<Factors> {
    f.list("validationFactors", None, "validation-factor")?
        .into_iter()
        .map(|v| Ok((v.required("name")?, v.str("value")?.unwrap_or_default())))
        .collect()
}

fn session_entity<'a>(call: &'a Call<'a>, live: &'a Live<'_>) -> Obj<'a> {
    Obj::new()
        .attr("expand", "user")
        .elem("token", live.token.as_str())
        .elem("user", entities::user(&call.links, &live.user, &live.directory.name, false))
        .elem(
            "link",
            Obj::new()
                .attr("rel", "self")
                .attr("href", format!("{}/session/{}", call.links.base, live.token)),
        )
        .date("created-date", live.session.created)
        .date("expiry-date", live.session.expires)
}

/// `POST /authentication?username=U` with `{"value":"pw"}` / `<password><value>pw</value>
/// </password>`: 200 and the user.
pub fn authenticate(call: &Call) -> Result<Response> {
    call.access.require_application()?;
    let name = call.required("username")?;
    let body = call.body()?;
    let password = body.fields().str("value")?.unwrap_or_default();
    let (user, dir) = login::authenticate(
        &login::Deps::of(call.app),
        &call.access,
        name,
        Some(&password),
        &call.req.remote,
        Unknown::UserNotFound,
    )?;
    Ok(call.reply(200, "user", &entities::user(&call.links, &user, &dir.name, false)))
}

/// `POST /authentication/notify?username=U`: the user logged in elsewhere (SSO); answers the
/// user if the application may let them in (Atlassian's Java client calls it at login since
/// Crowd 3.3 and falls back to `GET /user` on 404).
pub fn notify(call: &Call) -> Result<Response> {
    call.access.require_application()?;
    let (user, dir) = call.access.find_user(&call.app.store, call.required("username")?)?;
    if !user.active {
        return Err(Error::Login(
            crate::error::LoginFailure::Inactive,
            format!("Account with name <{}> is inactive", user.name),
        )
        .into());
    }
    login::permitted(&call.app.store, &user, dir)?;
    Ok(call.reply(200, "user", &entities::user(&call.links, &user, &dir.name, false)))
}

/// `POST /session[?validate-password=false][&duration=S]` with an authentication context:
/// 201, `Location`, the session.
pub fn create(call: &Call) -> Result<Response> {
    call.access.require_application()?;
    let body = call.body()?;
    let f = body.fields();
    let name = f.required("username")?;
    let validate =
        !matches!(call.param("validate-password")?, Some(v) if v.eq_ignore_ascii_case("false"));
    let password = f.str("password")?;
    if validate && password.is_none() {
        return Err(
            Error::bad_request("password is required unless validate-password=false").into()
        );
    }
    let factors = match f.obj("validation-factors")? {
        Some(v) => read_factors(v)?,
        None => Vec::new(),
    };
    let duration = match call.param("duration")? {
        None | Some("") => None,
        Some(d) => Some(
            d.trim()
                .parse::<u64>()
                .map_err(|_| Error::bad_request("duration must be a number of seconds"))?,
        ),
    };
    let password = if validate { password.as_deref() } else { None };
    let (user, dir) = login::authenticate(
        &login::Deps::of(call.app),
        &call.access,
        &name,
        password,
        &call.req.remote,
        Unknown::BadCredentials,
    )?;
    let live = sessions::create(
        &sessions::Deps::of(call.app),
        &call.access,
        user,
        dir,
        &factors,
        duration,
    )?;
    let location = format!("{}/session/{}", call.links.base, live.token);
    Ok(call
        .reply(201, "session", &session_entity(call, &live))
        .header("Location", location)
        .header("Cache-Control", "no-cache"))
}

fn token<'c>(call: &'c Call) -> &'c str {
    call.arg.unwrap_or("")
}

/// `GET /session/{token}`: the session and its user, without extending it.
pub fn get(call: &Call) -> Result<Response> {
    call.access.require_application()?;
    let live = sessions::validate(&sessions::Deps::of(call.app), &call.access, token(call), None)?;
    Ok(call.reply(200, "session", &session_entity(call, &live)).header("Cache-Control", "no-cache"))
}

/// `POST /session/{token}` with validation factors: validates and extends it (the npm client
/// may send `{}`).
pub fn validate(call: &Call) -> Result<Response> {
    call.access.require_application()?;
    let factors = if call.req.body.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        read_factors(call.body()?.fields())?
    };
    let live = sessions::validate(
        &sessions::Deps::of(call.app),
        &call.access,
        token(call),
        Some(&factors),
    )?;
    Ok(call.reply(200, "session", &session_entity(call, &live)).header("Cache-Control", "no-cache"))
}

/// `DELETE /session/{token}`: 204.
pub fn delete(call: &Call) -> Result<Response> {
    sessions::end(&sessions::Deps::of(call.app), &call.access, token(call))?;
    Ok(Response::no_content())
}

/// `DELETE /session?username=U[&exclude=T]`: ends the user's sessions; 204.
pub fn delete_for_user(call: &Call) -> Result<Response> {
    sessions::end_all(
        &sessions::Deps::of(call.app),
        &call.access,
        call.required("username")?,
        call.param("exclude")?,
    )?;
    Ok(Response::no_content())
}

/// `GET /config/cookie`: how SSO cookies are set (CookieConfigEntity). The npm client calls it
/// to check the server is there.
pub fn cookie_config(call: &Call) -> Result<Response> {
    let entity = Obj::new()
        .elem("domain", None::<String>)
        .elem("secure", false)
        .elem("name", "crowd.token_key");
    Ok(call.reply(200, "cookie-config", &entity))
}
