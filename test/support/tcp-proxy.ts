/**
 * The loopback TCP proxy the tests put in front of PostgreSQL or Redis (cut, stall, latency,
 * dropped pub/sub messages). It lives with the chaos harness, which breaks dependencies the same way.
 */
export { respFrameEnd, startTcpProxy, type TcpProxy, type TcpProxyOptions } from '../../bench/chaos/tcp-proxy.js';
