<?php
// mail.php - one message through PHP's own mail(), which pipes it into
// the sendmail_path command (default "/usr/sbin/sendmail -t -i"; set it
// with php -d sendmail_path=...). For tests/callers-php.bats.
//
//   php -d sendmail_path="COMMAND" mail.php TO SUBJECT
//
// The body has a line ".leading dot" and a lone "." line, and no final
// newline: mail() adds one (it writes the body and "\n"). Prints "true"
// when mail() reports success, "false" otherwise (and exits 1).
if ($argc != 3) {
    fwrite(STDERR, "usage: php mail.php TO SUBJECT\n");
    exit(2);
}
$ok = mail($argv[1], $argv[2], "first line\n.leading dot\n.\nlast line",
           "From: PHP App <sender@example.org>");
echo $ok ? "true\n" : "false\n";
exit($ok ? 0 : 1);
