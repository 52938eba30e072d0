// Package costs pins the object-store requests of the serverless shape,
// which docs/COSTS.md prices: what a query function (role "function")
// sends to S3 to start, to answer its first (cold) and later (warm)
// queries, and to commit a write through the direct write path. Its test
// counts them through objstore.Counting against a real S3 server.
package costs
