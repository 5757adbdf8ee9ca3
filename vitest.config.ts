import { defineConfig } from 'vitest/config';

// Two kinds of tests: fast unit tests of pure logic, and integration tests against a real
// ClickHouse and a real Kafka that test/support/global-setup.ts starts on free loopback ports.
// The kafka4 project runs the Kafka-facing tests again against a current Kafka 4.x broker.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // a hang still fails; a property test or a subprocess on a machine busy with the whole
          // suite (2 cores, ClickHouse and Kafka beside it) may take longer than vitest's 5 s
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          env: { TOKENWATCH_TEST_KAFKA_VERSION: '3.9.2' },
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'kafka4',
          include: ['test/integration/kafka-*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          env: { TOKENWATCH_TEST_KAFKA_VERSION: '4.1.1' },
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
