// The mongo service's healthcheck (docker-compose.yml runs it with mongosh every few seconds, as the
// administrator). On first start it makes this mongod the single-node replica set rs0 (the services use
// multi-document transactions, which need a replica set) and gives each service its own user, with readWrite on
// its own database only (the passwords from the environment: MONGO_<SERVICE>_PASSWORD), and the exporter its
// monitoring user (clusterMonitor, read on local; MONGO_MONITOR_PASSWORD); it exits 0 only once this
// node is the writable primary and the users exist. A user that exists keeps its password (deploy/README.md).
// Idempotent: an initiated set is left alone. Not run from /docker-entrypoint-initdb.d on purpose: the
// image's temporary init mongod listens on 127.0.0.1 only, so "mongo:27017" would not resolve to itself.
try {
  rs.status();
} catch (e) {
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
if (!db.hello().isWritablePrimary) quit(1);
const admin = db.getSiblingDB("admin");
for (const service of ["intake", "tracking", "notifier"]) {
  const user = "dondoc-" + service;
  const pwd = process.env["MONGO_" + service.toUpperCase() + "_PASSWORD"];
  if (!pwd) quit(2);
  if (!admin.getUser(user)) {
    admin.createUser({ user: user, pwd: pwd, roles: [{ role: "readWrite", db: "dondoc_" + service }] });
  }
}
// The MongoDB exporter's user (Prometheus job mongodb): server, replica-set and oplog figures, no data.
const monitorPwd = process.env.MONGO_MONITOR_PASSWORD;
if (!monitorPwd) quit(2);
if (!admin.getUser("dondoc-monitor")) {
  admin.createUser({
    user: "dondoc-monitor",
    pwd: monitorPwd,
    roles: [{ role: "clusterMonitor", db: "admin" }, { role: "read", db: "local" }],
  });
}
quit(0);
