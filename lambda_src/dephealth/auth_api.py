"""REST routes for accounts: signup, email verification and magic-link login.

    POST /signup             {"email"}   -> 202, a verification link is mailed
    GET  /verify?token=...               -> 201, the first API key (shown once)
    POST /auth/magic-link    {"email"}   -> 202, a login link is mailed
    GET  /auth/callback?token=...        -> 200, the user; 400 token_already_used,
                                            token_expired or invalid_token

The two mail routes answer the same for every valid address after the same
fixed work (see ``mail_requests``); 429 ``mail_limit_exceeded`` past the
per-address hourly limit. Retryable DynamoDB and SQS faults answer 503 with
``Retry-After``, before the function's timeout.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from lambda_src.common.http import install_error_handlers, json_body, json_response

from . import magic_link, mail_requests, signup, validation
from .api_errors import STATUS
from .runtime import begin, dynamodb

logger = Logger()
app = APIGatewayRestResolver()
install_error_handlers(app, logger, domain_errors=STATUS)

_SENT = "if the address can receive mail, a link is on its way"


@app.post("/signup")
def post_signup() -> Response:
    email = validation.email(json_body(app).get("email"))
    mail_requests.request(dynamodb(), email, "signup")
    return json_response(202, {"message": _SENT})


@app.get("/verify")
def get_verify() -> Response:
    token = validation.token(app.current_event.get_query_string_value("token"))
    return json_response(201, signup.verify(dynamodb(), token))


@app.post("/auth/magic-link")
def post_magic_link() -> Response:
    email = validation.email(json_body(app).get("email"))
    mail_requests.request(dynamodb(), email, "magic_link")
    return json_response(202, {"message": _SENT})


@app.get("/auth/callback")
def get_callback() -> Response:
    token = validation.token(app.current_event.get_query_string_value("token"))
    user = magic_link.redeem(dynamodb(), token)
    logger.info("login", extra={"tier": user.get("tier")})
    return json_response(200, {"user": user})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event, context):
    begin(context)
    return app.resolve(event, context)
