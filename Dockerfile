# selfimprove in a container: `docker run --rm -v "$PWD:/repo" IMAGE run --dry-run /repo`,
# or the webhook endpoint:
# `docker run -e SELFIMPROVE_WEBHOOK_SECRET -e SELFIMPROVE_APP_ID -e SELFIMPROVE_APP_PRIVATE_KEY
#   -p 8080:8080 IMAGE serve --host 0.0.0.0 --port 8080`.
# The target's tests run with the image's Python; a project needing more installs on top.
# Candidate code runs under bubblewrap, which needs user namespaces that Docker's default
# seccomp/AppArmor profiles and masked /proc refuse: add
# `--security-opt seccomp=unconfined --security-opt apparmor=unconfined
#  --security-opt systempaths=unconfined` (`selfimprove doctor` says whether it works).
FROM python:3.12-slim

RUN apt-get update \
    && apt-get install --yes --no-install-recommends git bubblewrap \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory /repo

WORKDIR /opt/selfimprove
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY methods ./methods
COPY validators ./validators
RUN pip install --no-cache-dir .

RUN useradd --create-home --uid 10001 selfimprove
USER selfimprove
ENV SELFIMPROVE_HOME=/home/selfimprove/.cache/selfimprove \
    PYTHONUNBUFFERED=1
WORKDIR /repo
EXPOSE 8080
ENTRYPOINT ["selfimprove"]
CMD ["--help"]
