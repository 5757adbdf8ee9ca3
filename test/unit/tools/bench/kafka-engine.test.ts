import { describe, expect, it } from 'vitest';
import {
  emptyValue,
  positionalKafkaArguments,
  queueTableSql,
  unfilled,
} from '../../../../tools/bench/kafka-engine.ts';

const target = {
  database: 'bench_engine_1',
  brokers: '127.0.0.1:9092',
  topic: 'bench.engine.1',
  group: "g'1",
};

describe("bench:ingest's peer, ClickHouse's Kafka engine", () => {
  it('takes positional arguments on 18.16 and SETTINGS on current ClickHouse', () => {
    expect(positionalKafkaArguments('18.16.1')).toBe(true);
    expect(positionalKafkaArguments('19.17.4.11')).toBe(true);
    expect(positionalKafkaArguments('25.8.2.1')).toBe(false);
    expect(queueTableSql(target, '18.16.1')).toContain(
      "ENGINE = Kafka('127.0.0.1:9092', 'bench.engine.1', 'g\\'1', 'JSONEachRow')",
    );
    expect(queueTableSql(target, '25.8.2.1')).toContain(
      "ENGINE = Kafka SETTINGS kafka_broker_list = '127.0.0.1:9092', kafka_topic_list = 'bench.engine.1', kafka_group_name = 'g\\'1', kafka_format = 'JSONEachRow'",
    );
  });
});

describe("bench:ingest's peer: the columns the message does not fill", () => {
  it('are named with an empty value of their type, and an unknown type is refused by name', () => {
    expect(
      unfilled([
        { name: 'event_id', type: 'String' },
        { name: 'country', type: 'String' },
      ]),
    ).toEqual([{ name: 'country', type: 'String' }]);
    expect(emptyValue({ name: 'country', type: 'String' })).toBe("''");
    expect(emptyValue({ name: 'lat', type: 'Float64' })).toBe('CAST(0 AS Float64)');
    expect(emptyValue({ name: 'kafka_partition', type: 'UInt16' })).toBe('CAST(0 AS UInt16)');
    expect(emptyValue({ name: 'tags', type: 'Array(String)' })).toBe('emptyArrayString()');
    expect(() => emptyValue({ name: 'seen', type: 'DateTime64(3)' })).toThrow(
      /events\.seen of type DateTime64\(3\)/,
    );
  });
});
