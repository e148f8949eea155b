package memory.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.api.impl.index.LuceneSettings;

/**
 * An embedded Neo4j Community server for local development and the test suite.
 *
 * <pre>
 * java -Xmx1g -cp target/classes:$(cat target/classpath.txt) memory.neo4j.Main \
 *     --home DIR --port PORT --password-file FILE [--pagecache 256m] [--vector-merge-factor 10]
 *     [--exit-when-ready true]
 * </pre>
 *
 * <p>Bolt listens on 127.0.0.1:PORT only; the HTTP and HTTPS connectors are off. Authentication is on: on
 * the first start the built-in user {@code neo4j} gets the password read from FILE (never from the command
 * line, where other users could read it), with no change required. The database lives under DIR. When it is
 * available the launcher prints one line {@code READY <version> bolt://127.0.0.1:PORT}; SIGTERM (or SIGINT)
 * shuts it down cleanly through a shutdown hook. Errors go to stderr and exit with status 2 (usage) or 1.
 * {@code --exit-when-ready true} stops right after READY: the Python manager runs it once after a build,
 * under {@code -XX:ArchiveClassesAtExit}, to write a class-data archive that makes later starts faster.
 *
 * <p>{@code --vector-merge-factor N} sets how many Lucene segments of one size a vector index collects before
 * it merges them (Neo4j 5.26's {@code internal.dbms.index.vector.standard_merge_factor}, 50 by default). Every
 * committed transaction that writes a vector leaves a new small segment, and a query searches each segment's
 * HNSW graph in turn: with 50, ten thousand single-fact transactions left 53 segments and a top-10 query took
 * 18x as long as on the same index rebuilt into one. A small factor keeps the index merged as it is written.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parse(args);
        Path home = Path.of(require(opts, "home")).toAbsolutePath();
        int port = Integer.parseInt(require(opts, "port"));
        String password = readPassword(Path.of(require(opts, "password-file")));
        long pagecache = ByteUnit.parse(opts.getOrDefault("pagecache", "256m"));
        int vectorMergeFactor = Integer.parseInt(opts.getOrDefault("vector-merge-factor", "10"));
        if (vectorMergeFactor < 2) {
            usage("--vector-merge-factor must be 2 or more, not " + vectorMergeFactor);
        }

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                // Stop in about a second: by default Bolt waits 5 s twice for idle connections and its threads.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
                .setConfig(GraphDatabaseSettings.udc_enabled, false) // no anonymous usage report
                .setConfig(GraphDatabaseSettings.log_queries, GraphDatabaseSettings.LogQueryLevel.OFF)
                // Small transaction logs: no 250 MB preallocation, keep only what recovery needs.
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(16))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "1 files")
                .setConfig(GraphDatabaseSettings.check_point_interval_time, Duration.ofSeconds(60))
                .setConfig(LuceneSettings.vector_standard_merge_factor, vectorMergeFactor)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            System.out.flush();
            dbms.shutdown();
            stopped.countDown();
        }, "neo4j-launcher-shutdown"));

        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        GraphDatabaseService neo4j = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!system.isAvailable(TimeUnit.MINUTES.toMillis(5)) || !neo4j.isAvailable(TimeUnit.MINUTES.toMillis(5))) {
            System.err.println("neo4j-launcher: the database did not become available within 5 minutes");
            System.exit(1);
        }
        setInitialPassword(system, password);
        String version = system.executeTransactionally(
                "CALL dbms.components() YIELD versions RETURN versions[0] AS v",
                Map.of(),
                result -> String.valueOf(result.next().get("v")));
        System.out.println("READY " + version + " bolt://127.0.0.1:" + port);
        System.out.flush();
        if (opts.containsKey("exit-when-ready")) {
            System.exit(0); // runs the shutdown hook; -XX:ArchiveClassesAtExit then writes its archive
        }
        stopped.await();
    }

    /** Sets the password of the built-in user while it still requires a change (its first start). */
    private static void setInitialPassword(GraphDatabaseService system, String password) {
        boolean changeRequired = system.executeTransactionally(
                "SHOW USERS YIELD user, passwordChangeRequired WHERE user = 'neo4j' RETURN passwordChangeRequired",
                Map.of(),
                result -> result.hasNext() && Boolean.TRUE.equals(result.next().get("passwordChangeRequired")));
        if (changeRequired) {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
        }
    }

    private static String readPassword(Path file) throws IOException {
        String password = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (password.length() < 8) {
            usage("the password in " + file + " is shorter than 8 characters");
        }
        return password;
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> opts = new java.util.HashMap<>();
        List<String> known =
                List.of("home", "port", "password-file", "pagecache", "vector-merge-factor", "exit-when-ready");
        for (int i = 0; i < args.length; i += 2) {
            String key = args[i].startsWith("--") ? args[i].substring(2) : "";
            if (!known.contains(key) || i + 1 >= args.length) {
                usage("unknown or incomplete option " + args[i]);
            }
            opts.put(key, args[i + 1]);
        }
        return opts;
    }

    private static String require(Map<String, String> opts, String key) {
        String value = opts.get(key);
        if (value == null) {
            usage("missing --" + key);
        }
        return value;
    }

    private static void usage(String problem) {
        System.err.println("neo4j-launcher: " + problem);
        System.err.println(
                "usage: memory.neo4j.Main --home DIR --port PORT --password-file FILE [--pagecache 256m]"
                        + " [--vector-merge-factor 10] [--exit-when-ready true]");
        System.exit(2);
    }
}
