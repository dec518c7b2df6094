/// <reference path="./hyperswarm.d.ts" />
/// <reference path="./hyperdht.d.ts" />
/// <reference path="./corestore.d.ts" />
/// <reference path="./protomux.d.ts" />
/// <reference path="./secret-stream.d.ts" />
/// <reference path="./hyperbee.d.ts" />
/// <reference path="./hypercore-crypto.d.ts" />
/// <reference path="./holepunch-stats.d.ts" />
