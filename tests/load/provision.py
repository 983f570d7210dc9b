"""provision.py BASE ADMIN_TOKEN INTEGRATION PREFIX N — creates the integration (native) and
users PREFIX0..PREFIX(N-1) through the REST API on one keep-alive connection; prints the token."""
import sys

import requests

base, admin, name, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
s = requests.Session()
r = s.post(base + "/v1/integration/create", json={"name": name, "adapter": "native"},
           headers={"Authorization": "Bearer " + admin}, timeout=10)
r.raise_for_status()
token = r.json()["token"]
h = {"Authorization": "Bearer " + token}
for i in range(n):
    s.post(base + "/v1/users/create", json={"extension": "%s%d" % (prefix, i)}, headers=h,
           timeout=10).raise_for_status()
print(token)
