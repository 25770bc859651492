#!/bin/bash
# The mongo service's entrypoint (docker-compose.yml): writes the replica set's keyfile from MONGO_KEYFILE (mongod
# refuses a keyfile others may read, so it is the mongodb user's alone), then hands over to the image's own
# entrypoint, which creates the administrator (MONGO_INITDB_ROOT_*) on the first start and runs mongod.
set -euo pipefail
keyfile=/tmp/mongo-keyfile
printf '%s\n' "${MONGO_KEYFILE:?set MONGO_KEYFILE in .env (openssl rand -hex 128)}" > "$keyfile"
chmod 0400 "$keyfile"
chown 999:999 "$keyfile"
unset MONGO_KEYFILE
exec docker-entrypoint.sh "$@"
