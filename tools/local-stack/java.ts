/** The command line of the local stack's Java services (Kafka, ZooKeeper): heap, headless, slf4j-simple at warn, classpath, main class. */
export interface JavaCommand {
  heapMb: number;
  /** folder/* of the service's jars */
  classpath: string;
  main: string;
  args: string[];
  /** more JVM options */
  options?: string[];
}

/** The arguments of `java` for the service. */
export const javaArgs = (c: JavaCommand): string[] => [
  `-Xmx${c.heapMb}m`,
  ...(c.options ?? []),
  '-Djava.awt.headless=true',
  '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
  '-cp',
  c.classpath,
  c.main,
  ...c.args,
];
