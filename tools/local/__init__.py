"""The local target: MiniStack on localhost, driven by the plain CDK CLI.

    python -m tools.local deploy  [--target local|aws] [--stage dev] [--port 4566] [--fresh]
    python -m tools.local destroy [--target local|aws]
    python -m tools.local diff    [--target local|aws]
    python -m tools.local invoke  --function NAME --event FILE [--in-process]
    python -m tools.local status | mail | ui

Modules: ``env`` (ports, credentials, the one boto3 session), ``endpoint``
(the MiniStack process), ``cdk`` (the pinned CDK CLI), ``deploy`` (deploy,
settings the emulator's CloudFormation ignores, sample data, what runs where),
``fidelity`` (template vs endpoint), ``invoke``, ``mail``, ``ui`` and ``cli``.
"""
