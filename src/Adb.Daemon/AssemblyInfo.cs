// adbd serves Linux only (PTYs, fsuid, /proc).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
