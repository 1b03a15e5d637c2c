import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Fails the build when a jar holds a class newer than the Java version Managed Flink runs.
 *
 * Usage (the JDK's single-file source launcher, as `mvn package` runs it after the shade step):
 *   java assembly/build-checks/BytecodeGuard.java JAR MAX_MAJOR [--reject]
 *
 * Every {@code *.class} entry's class file major version is read from its header; entries under
 * {@code META-INF/versions/} are skipped (a multi-release jar's newer variants, which an older JVM
 * never loads). Exits 0 when all classes are at most MAX_MAJOR, 1 when not (each offending class named
 * on stderr, with its Java version), 2 on bad usage or an unreadable jar. With --reject, a failing jar is
 * renamed to JAR.rejected, so that neither the zip assembly nor a later `make build` (which goes by the
 * jar's timestamp) can pick it up.
 */
public final class BytecodeGuard {
    private static final int MAGIC = 0xCAFEBABE;
    private static final int MAX_LISTED = 40;

    public static void main(String[] args) {
        boolean reject = args.length == 3 && args[2].equals("--reject");
        if (args.length != 2 && !reject) {
            System.err.println("usage: java BytecodeGuard.java JAR MAX_MAJOR [--reject]   (MAX_MAJOR 55 = Java 11)");
            System.exit(2);
        }
        String jar = Paths.get(args[0]).normalize().toString();
        int maxMajor = Integer.parseInt(args[1]);
        List<String> offenders = new ArrayList<>();
        int checked = 0;
        try (ZipFile zip = new ZipFile(jar)) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                String name = entry.getName();
                if (entry.isDirectory() || !name.endsWith(".class") || name.startsWith("META-INF/versions/")) {
                    continue;
                }
                int major = majorVersion(zip, entry);
                checked++;
                if (major > maxMajor) {
                    offenders.add(name + " (Java " + (major - 44) + ", class file major " + major + ")");
                }
            }
        } catch (IOException e) {
            System.err.println("BytecodeGuard: cannot read " + jar + ": " + e.getMessage());
            System.exit(2);
        }
        if (offenders.isEmpty()) {
            try {
                Files.deleteIfExists(Paths.get(jar + ".rejected")); // an earlier build's rejected jar
            } catch (IOException e) {
                // harmless: only a leftover
            }
            System.out.println("BytecodeGuard: " + checked + " classes in " + jar + " are Java "
                    + (maxMajor - 44) + " bytecode or older (major <= " + maxMajor + ")");
            return;
        }
        StringBuilder message = new StringBuilder();
        message.append("BytecodeGuard: ").append(offenders.size()).append(" class(es) in ").append(jar)
                .append(" are newer than Java ").append(maxMajor - 44).append(" (class file major ")
                .append(maxMajor).append("), which Managed Flink runs:");
        for (int i = 0; i < offenders.size() && i < MAX_LISTED; i++) {
            message.append("\n  ").append(offenders.get(i));
        }
        if (offenders.size() > MAX_LISTED) {
            message.append("\n  ... and ").append(offenders.size() - MAX_LISTED).append(" more");
        }
        message.append("\nPin a dependency version built for Java ").append(maxMajor - 44)
                .append(" or older in pom.xml (e.g. aws-msk-iam-auth 2.3.4; 2.3.5+ are Java 17).");
        if (reject) {
            try {
                Path rejected = Paths.get(jar + ".rejected");
                Files.move(Paths.get(jar), rejected, StandardCopyOption.REPLACE_EXISTING);
                message.append("\nThe jar was moved to ").append(rejected).append(" so that nothing ships it.");
            } catch (IOException e) {
                message.append("\nCould not move the jar aside: ").append(e.getMessage());
            }
        }
        System.err.println(message);
        System.exit(1);
    }

    private static int majorVersion(ZipFile zip, ZipEntry entry) throws IOException {
        try (InputStream in = zip.getInputStream(entry); DataInputStream data = new DataInputStream(in)) {
            if (data.readInt() != MAGIC) {
                throw new IOException(entry.getName() + " is not a class file");
            }
            data.readUnsignedShort(); // minor
            return data.readUnsignedShort();
        }
    }
}
