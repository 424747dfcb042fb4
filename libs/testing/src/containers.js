// The Docker path of the test harness: the same four engines as tools/infra/infra.sh, in containers.
// testcontainers is pinned to 11.x because 12.1+ needs Node 22 (docs/decisions/0003-node20-pins.md).
// It is loaded lazily so machines without Docker never pay for it.
async function hasContainerRuntime() {
  try {
    const { getContainerRuntimeClient } = require('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers() {
  const { GenericContainer, Wait } = require('testcontainers');
  const [pg, redis, kafka, stripeMock] = await Promise.all([
    new GenericContainer('postgres:15')
      .withEnvironment({ POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'omnipay' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start(),
    new GenericContainer('redis:7').withExposedPorts(6379).start(),
    new GenericContainer('apache/kafka:4.1.1')
      .withExposedPorts({ container: 9092, host: 19092 })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:19092',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_NUM_PARTITIONS: '3',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start(),
    new GenericContainer('stripe/stripe-mock:v0.197.0').withExposedPorts(12111).start(),
  ]);
  return {
    DATABASE_URL: `postgres://postgres:postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/omnipay`,
    REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    KAFKA_BROKERS: `${kafka.getHost()}:19092`,
    STRIPE_MOCK_URL: `http://${stripeMock.getHost()}:${stripeMock.getMappedPort(12111)}`,
  };
}

module.exports = { hasContainerRuntime, startContainers };
