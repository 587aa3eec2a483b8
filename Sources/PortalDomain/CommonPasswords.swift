/// Common passwords of 15 or more characters, lowercased, from public breach-frequency lists,
/// plus the portal's own names. Shorter ones are already refused by the length rule.
enum CommonPasswords {
    static let list: Set<String> = [
        "123456789012345", "1234567890123456", "12345678901234567890", "1q2w3e4r5t6y7u8i",
        "1qaz2wsx3edc4rfv", "1qaz2wsx3edc4rfv5tgb", "abcdefghijklmnop", "abcdefghijklmnopqrstuvwxyz",
        "administrator123", "aaaaaaaaaaaaaaa", "asdfghjklasdfghjkl", "asdfghjkl123456", "baseball12345678",
        "changeme12345678", "correcthorsebatterystaple", "correct horse battery staple", "dragondragondragon",
        "football12345678", "iloveyou12345678", "iloveyouiloveyou", "letmeinletmein1", "letmein123456789",
        "lynxportal12345", "lynx-portal-password", "lynxportalpassword", "mypassword12345", "mypassword123456",
        "passw0rdpassw0rd", "password1234567", "password12345678", "password123456789", "passwordpassword",
        "passwordpassword1", "password!password", "p@ssw0rdp@ssw0rd", "qazwsxedcrfvtgb", "qazwsxedcrfvtgbyhn",
        "qwertyuiopasdfg", "qwertyuiopasdfgh", "qwertyuiopasdfghjkl", "qwertyuiop123456", "qwerty1234567890",
        "qwertyqwertyqwerty", "sunshinesunshine", "superman12345678", "thisismypassword", "thisismypassword1",
        "trustno1trustno1", "welcome123456789", "welcomewelcome1", "welcome to the portal", "zaq12wsxcde34rfv",
        "zxcvbnmasdfghjkl", "1234567890qwertyuiop", "qwertyuiop1234567890", "0987654321qwertyuiop",
        "mynameisslimshady", "iloveyoutoo12345", "princessprincess", "monkeymonkeymonkey",
        "letmeinplease123", "opensesame123456", "studentpassword1", "studentstudent12", "teacherteacher12",
    ]
}
