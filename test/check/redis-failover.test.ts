/**
 * The Redis Cluster and Sentinel suites, in one file so they run one after the other: each
 * starts its own servers and kills a master, and run side by side on two loaded cores their
 * failovers starved each other (each passed alone).
 */
import './redis-cluster.js';
import './redis-sentinel.js';
import './redis-sentinel-reconnect.js';
import './redis-cluster-start.js';
