// Runs MobilityData's canonical GTFS Schedule validator (gtfs-validator-main, the engine behind its CLI)
// on one feed, writing report.json (notices by code and severity) into an output folder.
//
//   java -cp "$GTFS_VALIDATOR_CACHE/libs/*" tests/services/gtfs-validator/Validate.java FEED OUT [YYYY-MM-DD]
//
// Java 11+ runs this single source file without a build step. Exit 0 when the validator ran (the
// notices are in the report), 2 when it could not (system errors: OUT/system_errors.json).
import java.nio.file.Path;
import java.time.LocalDate;
import org.mobilitydata.gtfsvalidator.input.CountryCode;
import org.mobilitydata.gtfsvalidator.runner.ApplicationType;
import org.mobilitydata.gtfsvalidator.runner.ValidationRunner;
import org.mobilitydata.gtfsvalidator.runner.ValidationRunnerConfig;
import org.mobilitydata.gtfsvalidator.util.VersionResolver;

public class Validate {
  public static void main(String[] args) {
    if (args.length < 2) {
      System.err.println("usage: Validate FEED OUT [YYYY-MM-DD]");
      System.exit(64);
    }
    ValidationRunnerConfig config = ValidationRunnerConfig.builder()
        .setGtfsSource(Path.of(args[0]).toAbsolutePath().toUri())
        .setOutputDirectory(Path.of(args[1]).toAbsolutePath())
        .setValidationReportFileName("report.json")
        .setHtmlReportFileName("report.html")
        .setSystemErrorsReportFileName("system_errors.json")
        .setNumThreads(1)
        .setCountryCode(CountryCode.forStringOrUnknown(""))
        .setDateForValidation(args.length > 2 ? LocalDate.parse(args[2]) : LocalDate.now())
        .setPrettyJson(true)
        .setSkipValidatorUpdate(true)  // no network: the version check would ask GitHub
        .build();
    ValidationRunner.Status status = new ValidationRunner(new VersionResolver(ApplicationType.CLI)).run(config);
    System.exit(status == ValidationRunner.Status.SUCCESS ? 0 : 2);
  }
}
