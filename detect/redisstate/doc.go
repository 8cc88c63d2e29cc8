// Package redisstate keeps detection's state and the guard's blocks in Redis, so that every instance counts, alerts and blocks together.
package redisstate
