// The mongo service's healthcheck (docker-compose.yml runs it with mongosh every few seconds).
// On first start it makes this mongod the single-node replica set rs0 (the services use multi-document
// transactions, which need a replica set); it exits 0 only once this node is the writable primary.
// Idempotent: an initiated set is left alone. Not run from /docker-entrypoint-initdb.d on purpose: the
// image's temporary init mongod listens on 127.0.0.1 only, so "mongo:27017" would not resolve to itself.
try {
  rs.status();
} catch (e) {
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
quit(db.hello().isWritablePrimary ? 0 : 1);
